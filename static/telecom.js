// The mekong-telecom back office (`eidgw demo`, /telecom/): uploads a subscriber file, reads
// the batch's NDJSON answers as they stream back, draws the progress, sums them up, and offers
// them as a file.
'use strict';

(() => {
  const form = document.querySelector('form[data-upload]');
  const $ = (sel) => document.querySelector(sel);
  const lang = document.documentElement.lang;
  const number = (n) => n.toLocaleString(lang === 'vi' ? 'de-DE' : 'en-US');
  const FIELDS = ['full_name', 'birth_date', 'sex', 'phone'];

  function fail(text) {
    const e = $('[data-upload-error]');
    e.textContent = text;
    e.hidden = false;
  }

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    $('[data-upload-error]').hidden = true;
    const file = form.file.files[0];
    if (!file) return;
    const button = form.querySelector('button');
    button.disabled = true;
    try {
      const text = await file.text();
      const csv = /\.csv$/i.test(file.name) || file.type === 'text/csv';
      // Lines to expect: every non-empty line (a CSV file's header row is not one).
      const total = Math.max(1, text.split('\n').filter((l) => l.trim()).length - (csv ? 1 : 0));
      const url = `/telecom/batch?format=${csv ? 'csv' : 'ndjson'}&purpose=${encodeURIComponent(form.purpose.value)}`;
      $('[data-running]').hidden = false;
      $('[data-summary]').hidden = true;
      const progress = $('[data-progress]');
      progress.max = total;
      progress.value = 0;
      const res = await fetch(url, { method: 'POST', headers: { 'x-csrf-token': form.dataset.csrf, 'content-type': 'application/octet-stream' }, body: text });
      if (!res.ok) {
        const p = await res.json().catch(() => ({}));
        throw new Error(p.detail || p.title || `HTTP ${res.status}`);
      }
      const counts = { lines: 0, matched: 0, mismatched: 0, unknown: 0, errors: 0 };
      const fields = Object.fromEntries(FIELDS.map((f) => [f, [0, 0]]));
      const codes = {};
      const answers = [];
      const take = (line) => {
        if (!line.trim()) return;
        answers.push(line);
        const a = JSON.parse(line);
        if (a.error) {
          counts.errors += 1;
          codes[a.error.code] = (codes[a.error.code] || 0) + 1;
          if (a.line === undefined) return; // the batch itself stopped (quota, store)
        } else if (!a.personal_id) {
          counts.unknown += 1;
        } else {
          const asked = FIELDS.filter((f) => f in a);
          asked.forEach((f) => { fields[f][a[f] ? 0 : 1] += 1; });
          if (asked.every((f) => a[f])) counts.matched += 1; else counts.mismatched += 1;
        }
        counts.lines += 1;
      };
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      let rest = '';
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        rest += decoder.decode(value, { stream: true });
        const lines = rest.split('\n');
        rest = lines.pop();
        lines.forEach(take);
        progress.value = counts.lines;
        $('[data-progress-text]').textContent = `${number(counts.lines)} / ${number(total)}`;
      }
      take(rest);
      progress.value = counts.lines;
      $('[data-progress-text]').textContent = `${number(counts.lines)} / ${number(total)}`;
      Object.entries(counts).forEach(([k, v]) => { document.querySelector(`[data-count=${k}]`).textContent = number(v); });
      document.querySelector('[data-fields] tbody').replaceChildren(...FIELDS.map((f) => {
        const tr = document.createElement('tr');
        tr.dataset.field = f;
        [f, number(fields[f][0]), number(fields[f][1])].forEach((c) => { const td = document.createElement('td'); td.textContent = c; tr.append(td); });
        return tr;
      }));
      $('[data-error-codes]').replaceChildren(...Object.entries(codes).map(([code, n]) => {
        const li = document.createElement('li');
        li.dataset.errorCode = code;
        li.textContent = `${code}: ${number(n)}`;
        return li;
      }));
      const link = $('[data-download]');
      link.href = URL.createObjectURL(new Blob([`${answers.join('\n')}\n`], { type: 'application/x-ndjson' }));
      $('[data-summary]').hidden = false;
      document.body.dataset.done = 'yes';
    } catch (err) {
      fail(err.message || String(err));
    } finally {
      button.disabled = false;
    }
  });
})();
