// The camera as a QR scanner for any form with a `[data-scan]` button (the desks and the
// phone of `eidgw demo`): the button opens the camera, jsQR (static/vendor/jsQR.js, vendored)
// reads the frames, and the first code read fills the form's `[data-scan-into]` field and
// submits the form, as a scanner's enter key would. Without a camera, the field is still there
// to paste into. The button's data attributes carry the page's words.
'use strict';

(() => {
  const FRAME_MS = 150;

  const scan = async (button) => {
    const form = button.closest('form');
    const into = form.querySelector('[data-scan-into]');
    if (!into || form.querySelector('[data-scanner]')) return;
    const box = document.createElement('div');
    box.className = 'scanner';
    box.dataset.scanner = 'starting';
    const video = document.createElement('video');
    video.muted = true;
    video.playsInline = true;
    const hint = document.createElement('p');
    hint.className = 'note';
    hint.textContent = button.dataset.scanHint;
    const cancel = document.createElement('button');
    cancel.type = 'button';
    cancel.className = 'secondary';
    cancel.textContent = button.dataset.scanCancel;
    box.append(video, hint, cancel);
    button.after(box);

    let stream = null;
    let timer = null;
    const stop = () => {
      clearTimeout(timer);
      if (stream) stream.getTracks().forEach((t) => t.stop());
      box.remove();
    };
    cancel.addEventListener('click', stop);
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        video: { facingMode: 'environment', width: { ideal: 1280 }, height: { ideal: 720 } },
        audio: false,
      });
    } catch (err) {
      hint.textContent = button.dataset.scanFailed;
      box.dataset.scanner = 'failed';
      into.focus();
      return;
    }
    video.srcObject = stream;
    await video.play().catch(() => {});
    box.dataset.scanner = 'scanning';
    const canvas = document.createElement('canvas');
    const g = canvas.getContext('2d', { willReadFrequently: true });
    const look = () => {
      if (!box.isConnected) return;
      const w = video.videoWidth;
      const h = video.videoHeight;
      if (w && h) {
        canvas.width = w;
        canvas.height = h;
        g.drawImage(video, 0, 0, w, h);
        const code = window.jsQR(g.getImageData(0, 0, w, h).data, w, h, { inversionAttempts: 'dontInvert' });
        if (code && code.data) {
          stop();
          into.value = code.data;
          form.dataset.scanned = 'yes';
          form.requestSubmit();
          return;
        }
      }
      timer = setTimeout(look, FRAME_MS);
    };
    look();
  };

  document.addEventListener('click', (ev) => {
    const button = ev.target.closest('button[data-scan]');
    if (button) {
      ev.preventDefault();
      scan(button);
    }
  });
})();
