// A desk's hand-over with a phone tab of the same browser (`eidgw demo`): the desk announces the
// nonce it waits for, the phone (static/phone.js) fills it in, and the presentation token the
// phone then shows comes back here and is submitted — as if the desk had scanned the QR code.
'use strict';

(() => {
  const form = document.querySelector('form[data-handover]');
  if (!form || !('BroadcastChannel' in window)) return;
  const channel = new BroadcastChannel('eid-demo');
  const clientId = form.dataset.handover;
  const nonce = form.querySelector('[name=nonce]').value;
  const announce = () => {
    const m = { kind: 'desk-nonce', client_id: clientId, nonce };
    const amount = form.dataset.amountVnd;
    if (amount) { m.amount_vnd = amount; m.creditor = form.dataset.creditor; }
    channel.postMessage(m);
  };
  channel.onmessage = (ev) => {
    const m = ev.data || {};
    if (m.kind === 'hello') announce();
    if (m.kind === 'presentation' && m.client_id === clientId && m.nonce === nonce) {
      form.querySelector('[name=token]').value = m.token;
      channel.postMessage({ kind: 'handed-over', nonce });
      form.requestSubmit();
    }
  };
  announce();
})();
