// Cross-device login: once the citizen approves in the app, this page continues by itself.
(function () {
  const section = document.getElementById('qr-login');
  if (!section) return;
  const status = section.dataset.status;
  async function poll() {
    try {
      const res = await fetch(status, { credentials: 'same-origin', cache: 'no-store' });
      if (res.ok && (await res.json()).approved) {
        window.location.reload();
        return;
      }
    } catch (_) { /* offline for a moment: try again */ }
    setTimeout(poll, 2000);
  }
  setTimeout(poll, 2000);
})();
