// The receiver console page. Plain browser JavaScript, shipped as is (no build step).
// Every alert field is put in the page as text (textContent), never as markup: an alert whose
// output is "<script>…" shows those characters and runs nothing (the server's CSP forbids inline
// scripts besides). The page keeps at most KEEP alerts and draws at most ROWS, so a flood cannot
// freeze it; the server sends a limited number of alerts a second and says how many it skipped,
// and the page draws at most NEW_ROWS of each arrival (the rest are kept: Pause draws them all).
'use strict';

(() => {
  const PRIORITIES = ['Emergency', 'Alert', 'Critical', 'Error', 'Warning', 'Notice', 'Informational', 'Debug'];
  const KEEP = 2000;
  const ROWS = 300;
  /** New rows drawn per frame; a burst beyond it gets a marker row, and its alerts stay kept. */
  const NEW_ROWS = 40;
  const RULE_SUGGESTIONS = 200;

  const $ = (id) => document.getElementById(id);
  const fmt = (n) => (typeof n === 'number' && Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '—');

  /** An element with a class and text content. */
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function ago(ms, now) {
    const s = Math.max(0, Math.round((now - ms) / 1000));
    if (s < 60) return `${s} s ago`;
    if (s < 3600) return `${Math.floor(s / 60)} min ago`;
    return `${Math.floor(s / 3600)} h ago`;
  }

  // ---- alerts --------------------------------------------------------------------------------

  /** Kept alerts, newest first; while paused, new ones wait in `held`. */
  let alerts = [];
  let held = [];
  let paused = false;
  let skipped = 0;
  let fresh = [];
  let fullRender = true;
  const knownRules = new Set();
  let rulesChanged = false;

  const filters = { minPriority: 7, rule: '', host: '', source: '', tag: '', text: '' };

  function readFilters() {
    filters.minPriority = Number($('f-priority').value);
    filters.rule = $('f-rule').value.trim().toLowerCase();
    filters.host = $('f-host').value.trim().toLowerCase();
    filters.source = $('f-source').value.trim().toLowerCase();
    filters.tag = $('f-tag').value.trim().toLowerCase();
    filters.text = $('f-text').value.trim().toLowerCase();
  }

  function haystack(a) {
    if (a.hay === undefined) {
      let text = `${a.output}\n${a.rule}\n${a.hostname}\n${a.source}\n${a.tags.join(' ')}`;
      for (const [k, v] of a.fields) text += `\n${k}=${v}`;
      a.hay = text.toLowerCase();
    }
    return a.hay;
  }

  function matches(a) {
    const f = filters;
    if (a.priority > f.minPriority) return false;
    if (f.rule && !a.rule.toLowerCase().includes(f.rule)) return false;
    if (f.host && !a.hostname.toLowerCase().includes(f.host)) return false;
    if (f.source && !a.source.toLowerCase().includes(f.source)) return false;
    if (f.tag && !a.tags.some((t) => t.toLowerCase().includes(f.tag))) return false;
    if (f.text && !haystack(a).includes(f.text)) return false;
    return true;
  }

  function onAlerts(msg) {
    skipped += msg.skipped;
    if (msg.alerts.length === 0 && msg.skipped === 0) return;
    // The server sends oldest first; the page keeps newest first.
    const batch = msg.alerts.slice().reverse();
    for (const a of batch) {
      if (knownRules.size < RULE_SUGGESTIONS && !knownRules.has(a.rule)) {
        knownRules.add(a.rule);
        rulesChanged = true;
      }
    }
    if (paused) {
      held = batch.concat(held).slice(0, KEEP);
    } else {
      alerts = batch.concat(alerts).slice(0, KEEP);
      fresh = batch.concat(fresh).slice(0, KEEP);
    }
    schedule();
  }

  // Rows are blocks of fixed height, not table rows: with content-visibility the browser lays out
  // and paints only the few on screen, so a burst costs little wherever the list is scrolled.
  function timeCell(time) {
    // 2025-11-27T05:00:00.000000970Z → "11-27" and "05:00:00.000000970"
    const cell = el('span', 'time');
    cell.title = time;
    cell.append(el('span', 'date', time.slice(5, 10)), document.createTextNode(time.slice(11, -1)));
    return cell;
  }

  function alertRow(a) {
    const item = el('div', 'alert');
    item.dataset.n = String(a.n);
    const row = el('div', 'row');
    row.append(timeCell(a.time));
    const prio = el('span', 'prio-cell');
    prio.append(el('span', `prio p${a.priority}`, PRIORITIES[a.priority] ?? `priority ${a.priority}`));
    row.append(prio);
    const rule = el('span', 'rule', a.rule);
    rule.title = a.rule;
    row.append(rule, el('span', 'host', a.hostname), el('span', 'src', a.source));
    const tags = el('span', 'tags');
    tags.title = a.tags.join(', ');
    for (const t of a.tags) tags.append(el('span', 'tag', t));
    row.append(tags, el('span', 'out', a.output));
    item.append(row);
    item.alert = a;
    return item;
  }

  /** Stands for the alerts of a burst that were kept but not drawn. */
  function gapRow(count) {
    return el('div', 'gap', `⋯ ${fmt(count)} more alerts arrived here at once: kept, not drawn — Pause to see them all`);
  }

  function toggleDetail(item) {
    const open = item.classList.toggle('open');
    if (!open) {
      item.querySelector('.detail')?.remove();
      return;
    }
    const a = item.alert;
    const detail = el('div', 'detail');
    detail.append(el('div', 'detail-head', `alert #${a.n} · ${a.time} · ${PRIORITIES[a.priority] ?? a.priority} · ${a.source} on ${a.hostname}`));
    detail.append(el('div', 'detail-out', a.output));
    const dl = el('dl', 'fields');
    if (a.fields.length === 0) dl.append(el('dt', null, 'output_fields'), el('dd', 'none', 'none'));
    for (const [k, v] of a.fields) dl.append(el('dt', null, k), el('dd', null, v));
    detail.append(dl);
    item.append(detail);
  }

  function renderAlerts() {
    const list = $('alert-list');
    if (fullRender) {
      const rows = [];
      for (const a of alerts) {
        if (rows.length >= ROWS) break;
        if (matches(a)) rows.push(alertRow(a));
      }
      list.replaceChildren(...rows);
      fullRender = false;
    } else if (fresh.length > 0) {
      const frag = document.createDocumentFragment();
      let drawn = 0;
      let more = 0;
      for (const a of fresh) {
        if (!matches(a)) continue;
        if (drawn < NEW_ROWS) {
          frag.append(alertRow(a));
          drawn++;
        } else more++;
      }
      if (more > 0) frag.append(gapRow(more));
      list.prepend(frag);
      while (list.childElementCount > ROWS) list.lastElementChild.remove();
    }
    fresh = [];
    const shown = list.querySelectorAll(':scope > .alert').length;
    $('empty').hidden = shown > 0;
    $('empty').textContent = alerts.length === 0 ? 'No alerts yet: they appear here as the receiver accepts them.' : 'No kept alert matches the filters.';
    const parts = [`showing ${fmt(shown)} of ${fmt(alerts.length)} kept`];
    if (skipped > 0) parts.push(`${fmt(skipped)} not streamed (console limit)`);
    $('shown').textContent = parts.join(' · ');
    $('pause').textContent = paused ? `Resume (${fmt(held.length)} new)` : 'Pause';
    if (rulesChanged) {
      $('rules-list').replaceChildren(...[...knownRules].sort().map((r) => {
        const o = document.createElement('option');
        o.value = r;
        return o;
      }));
      rulesChanged = false;
    }
  }

  // ---- state: counters, charts, tables -------------------------------------------------------

  let state = null;
  let chart = null;

  function card(label, value, detail, warn) {
    const c = el('div', `card${warn ? ' warn' : ''}`);
    c.append(el('div', 'label', label), el('div', 'value', value));
    if (detail) c.append(el('div', 'note', detail));
    return c;
  }

  function bars(container, rows) {
    const max = Math.max(1, ...rows.map((r) => r.count));
    container.replaceChildren(...rows.map((r) => {
      const row = el('div', 'bar-row');
      const label = el('span', 'bar-label', r.label);
      label.title = r.title ?? r.label;
      const track = el('span', 'bar-track');
      const fill = el('span', `bar-fill${r.cls ? ` ${r.cls}` : ''}${r.count === 0 ? ' zero' : ''}`);
      fill.style.width = `${(100 * r.count) / max}%`;
      track.append(fill);
      row.append(label, track, el('span', 'bar-count', fmt(r.count)));
      return row;
    }));
    if (rows.length === 0) container.replaceChildren(el('div', 'none', 'nothing yet'));
  }

  function tableRows(table, rows, empty, columns) {
    const body = table.tBodies[0];
    if (rows.length === 0) {
      const td = el('td', 'none', empty);
      td.colSpan = columns;
      const tr = el('tr');
      tr.append(td);
      body.replaceChildren(tr);
      return;
    }
    body.replaceChildren(...rows);
  }

  function cell(text, cls, title) {
    const td = el('td', cls, text);
    if (title) td.title = title;
    return td;
  }

  function renderChart(rate) {
    const container = $('rate-chart');
    const xs = rate.map((p) => p[0]);
    const ys = rate.map((p) => p[1]);
    if (xs.length === 0) {
      const now = Math.round(Date.now() / 1000);
      xs.push(now - 1, now);
      ys.push(0, 0);
    }
    if (typeof uPlot !== 'function') return; // the vendored file failed to load: the rest still works
    const width = Math.max(200, container.clientWidth);
    if (!chart) {
      const axis = { stroke: '#8a98aa', grid: { stroke: '#222c39', width: 1 }, ticks: { stroke: '#222c39', width: 1 } };
      chart = new uPlot({
        width,
        height: 190,
        legend: { show: false },
        cursor: { y: false, points: { size: 6 } },
        scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(10, max * 1.15)] } },
        axes: [axis, { ...axis, size: 60, values: (_u, ticks) => ticks.map((t) => (t >= 1000 ? `${(t / 1000).toFixed(t >= 10000 ? 0 : 1)}k` : String(t))) }],
        series: [{}, { label: 'alerts/s', stroke: '#4fa3ff', width: 2, fill: 'rgba(79,163,255,0.16)', points: { show: false } }],
      }, [xs, ys], container);
      new ResizeObserver(() => chart.setSize({ width: Math.max(200, container.clientWidth), height: 190 })).observe(container);
    } else {
      chart.setData([xs, ys]);
    }
  }

  function renderState() {
    const s = state;
    if (!s) return;
    const st = s.stats;
    const now = s.nowMs;
    const connected = s.producers.filter((p) => p.streams > 0).length;
    const last = s.rate.length > 0 ? s.rate[s.rate.length - 1][1] : 0;
    $('cards').replaceChildren(
      card('Accepted', fmt(st.accepted), `${fmt(st.requests)} publish requests`),
      card('Alerts / s', fmt(last), 'last second'),
      card('Producers', `${fmt(connected)} / ${fmt(st.producers)}`, 'connected / known'),
      card('Publish streams', fmt(st.activeStreams), `${fmt(st.rejectedStreams)} rejected`, st.rejectedStreams > 0),
      card('Subscribers', fmt(st.subscribers), `${fmt(st.subscriberDrops)} alerts dropped`, st.subscriberDrops > 0),
      card('Missing', fmt(st.gaps), 'sequence gaps (lost upstream)', st.gaps > 0),
    );
    $('meta').textContent = `v${s.version} · ${s.addresses.join(', ') || 'receiver'} · up ${ago(s.startedAtMs, now).replace(' ago', '')}`;

    renderChart(s.rate);
    bars($('by-priority'), PRIORITIES.map((name, i) => ({ label: name, count: s.byPriority[i] ?? 0, cls: `p${i}` })));
    bars($('top-rules'), s.topRules.map(([rule, count]) => ({ label: rule, count })));
    const drops = s.drops.map((d) => ({ label: d.reason, count: d.count, title: d.about, cls: d.reason === 'duplicates' ? 'p7' : 'p1' }));
    drops.push({ label: 'this page', count: skipped, title: `alerts not streamed to this page: the console sends a page at most ${fmt(limits.alertsPerSecond)} alerts a second (bursts of ${fmt(limits.burstAlerts)})`, cls: 'p4' });
    bars($('drops'), drops);

    tableRows($('producers'), s.producers.map((p) => {
      const tr = el('tr');
      tr.append(
        cell(p.id, null, p.id),
        cell(p.peer, null, p.peer),
        cell(p.streams > 0 ? `● connected${p.streams > 1 ? ` (${p.streams})` : ''}` : '○ gone', p.streams > 0 ? 'state-on' : 'state-off'),
        cell(fmt(p.handledThrough), 'num'),
        cell(fmt(p.accepted), 'num'),
        cell(fmt(p.duplicates), 'num'),
        cell(fmt(p.gaps), `num${p.gaps > 0 ? ' bad' : ''}`),
        cell(ago(p.lastSeenMs, now)),
      );
      return tr;
    }), 'no producer has connected', 8);

    tableRows($('subscribers'), s.subscribers.map((sub) => {
      const tr = el('tr');
      tr.append(cell(sub.peer, null, sub.peer), cell(fmt(sub.queued), 'num'), cell(fmt(sub.sent), 'num'), cell(fmt(sub.dropped), `num${sub.dropped > 0 ? ' bad' : ''}`));
      return tr;
    }), 'no subscriber', 4);

    const kv = [];
    const pair = (k, v, cls) => kv.push(el('dt', null, k), el('dd', cls, v));
    kv.push(el('dt', 'section', 'Sink'));
    for (const [k, v] of Object.entries(s.sink.sink)) pair(k, typeof v === 'number' ? fmt(v) : String(v));
    pair('refused runs', fmt(s.sink.failures), s.sink.failures > 0 ? 'bad' : null);
    if (s.sink.lastFailure) pair('last refusal', `${ago(s.sink.lastFailure.atMs, now)}: ${s.sink.lastFailure.message}`, 'bad');
    kv.push(el('dt', 'section', 'Console'));
    pair('pages open', fmt(s.stream.pages));
    pair('not streamed', fmt(s.stream.skipped));
    pair('filtered out', `${fmt(st.filtered)} below min priority`);
    $('outputs').replaceChildren(...kv);
  }

  // ---- drawing at most once a frame ----------------------------------------------------------

  let scheduled = false;
  let stateDirty = false;
  function schedule() {
    if (scheduled) return;
    scheduled = true;
    requestAnimationFrame(() => {
      scheduled = false;
      renderAlerts();
      if (stateDirty) {
        stateDirty = false;
        renderState();
      }
    });
  }

  // ---- the connection ------------------------------------------------------------------------

  let instance = null;
  let limits = { alertsPerSecond: NaN, burstAlerts: NaN };
  let lastId = '';
  let source = null;
  let retryMs = 1000;

  function setConn(cls, text) {
    $('conn').className = `conn ${cls}`;
    $('conn-text').textContent = text;
  }

  function notice(text) {
    const n = $('notice');
    n.textContent = text;
    n.hidden = !text;
  }

  function connect() {
    source = new EventSource(`api/events${lastId ? `?last=${encodeURIComponent(lastId)}` : ''}`);
    source.addEventListener('hello', (e) => {
      const hello = JSON.parse(e.data);
      if (instance !== null && hello.instance !== instance) {
        notice(`The receiver restarted at ${new Date().toISOString().slice(11, 19)} UTC: alerts numbered afresh below; the ones above came from before.`);
      }
      instance = hello.instance;
      limits = hello;
      retryMs = 1000;
      setConn('live', 'live');
    });
    source.addEventListener('alerts', (e) => {
      const msg = JSON.parse(e.data);
      lastId = `${instance}:${msg.through}`;
      onAlerts(msg);
    });
    source.addEventListener('state', (e) => {
      state = JSON.parse(e.data);
      stateDirty = true;
      schedule();
    });
    source.onerror = () => {
      const refused = source.readyState === EventSource.CLOSED; // an HTTP answer other than the stream
      source.close();
      if (refused) {
        fetch('api/state', { cache: 'no-store' }).then((r) => {
          if (r.status === 401) {
            setConn('unauthorized', 'unauthorized');
            notice('This console needs its token: open it as /?token=… (the token in the receiver\'s --ui-token-file).');
          }
        }, () => {});
      }
      setConn('reconnecting', `reconnecting in ${Math.round(retryMs / 1000)} s…`);
      setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, 10_000);
    };
  }

  // ---- controls ------------------------------------------------------------------------------

  function refilter() {
    readFilters();
    fullRender = true;
    schedule();
  }

  let filterTimer = 0;
  for (const id of ['f-rule', 'f-host', 'f-source', 'f-tag', 'f-text']) {
    $(id).addEventListener('input', () => {
      clearTimeout(filterTimer);
      filterTimer = setTimeout(refilter, 120);
    });
  }
  $('f-priority').addEventListener('change', refilter);
  $('pause').addEventListener('click', () => {
    paused = !paused;
    $('pause').classList.toggle('paused', paused);
    if (!paused) {
      alerts = held.concat(alerts).slice(0, KEEP);
      held = [];
    }
    // Both ways the list is drawn whole: paused, every kept alert up to ROWS, without burst markers.
    fresh = [];
    fullRender = true;
    schedule();
  });
  $('clear').addEventListener('click', () => {
    alerts = [];
    held = [];
    fresh = [];
    fullRender = true;
    schedule();
  });
  $('alert-list').addEventListener('click', (e) => {
    const target = e.target;
    if (!(target instanceof Element) || target.closest('.detail')) return;
    const item = target.closest('.alert');
    if (item) toggleDetail(item);
  });

  readFilters();
  connect();
})();
