// A desk's hand-over with a phone tab of the same browser (`eidgw demo`), standing in for the
// QR scanner and the card reader:
// - a desk waiting for a presentation announces its nonce (and any transfer); the phone
//   (static/phone.js) fills them in, and the token it then shows comes back here and is
//   submitted, as if the desk had scanned the QR code;
// - a desk asking for a patient takes the login hint a phone shows (as if it scanned its QR);
// - a card reader announces its active-authentication challenge; the phone holding the card
//   answers with the chip's read, which is submitted as if the card lay on the reader.
'use strict';

(() => {
  if (!('BroadcastChannel' in window)) return;
  const channel = new BroadcastChannel('eid-demo');
  const handover = document.querySelector('form[data-handover]');
  const reader = document.querySelector('form[data-chip-reader]');
  const hint = document.querySelector('form[data-login-hint]');
  // Several desks may be open: the phone follows the one opened last.
  const since = Date.now();
  const announce = () => {
    if (handover) {
      const m = { kind: 'desk-nonce', since, client_id: handover.dataset.handover, nonce: handover.querySelector('[name=nonce]').value };
      if (handover.dataset.amountVnd) { m.amount_vnd = handover.dataset.amountVnd; m.creditor = handover.dataset.creditor; }
      channel.postMessage(m);
    }
    if (reader) channel.postMessage({ kind: 'chip-reader', challenge_id: reader.dataset.chipReader });
  };
  channel.onmessage = (ev) => {
    const m = ev.data || {};
    if (m.kind === 'hello') announce();
    if (handover && m.kind === 'presentation' && m.client_id === handover.dataset.handover
        && m.nonce === handover.querySelector('[name=nonce]').value) {
      handover.querySelector('[name=token]').value = m.token;
      channel.postMessage({ kind: 'handed-over', nonce: m.nonce });
      handover.requestSubmit();
    }
    if (hint && m.kind === 'login-hint' && !hint.dataset.sent) {
      hint.dataset.sent = 'yes';
      hint.querySelector('[name=login_hint_token]').value = m.token;
      channel.postMessage({ kind: 'handed-over', hint: true });
      hint.requestSubmit();
    }
    if (reader && m.kind === 'chip-read' && m.challenge_id === reader.dataset.chipReader) {
      reader.querySelector('[name=chip_read]').value = JSON.stringify(m.read);
      channel.postMessage({ kind: 'card-read', challenge_id: m.challenge_id });
      reader.requestSubmit();
    }
  };
  announce();
})();
