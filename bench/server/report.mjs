#!/usr/bin/env node
// Prints bench/server/run.sh's table from its results file, one line per wrk run:
//   <case>\t<server>\t<expected HTTP status>\t<wrk BENCH_RESULT json>
// Several runs (rounds) of one case and server are summarised by their median requests/s, p50 and
// p99; the ratios devicelogin/oidc-provider are checked against the dev server's targets
// (docs/performance.md).

import * as fs from 'node:fs';

const TARGET_RATIO = 5;
const TARGET_P99_MS = 5;
const CASES = { auth: 'device authorization', poll: 'pending poll', calibration: 'calibration' };

const runs = fs.readFileSync(process.argv[2], 'utf8').split('\n').filter(Boolean).map((line) => {
  const [kase, server, status, json] = line.split('\t');
  const r = JSON.parse(json);
  // Without body checks, a 200 case must have no non-2xx answer and a 400 case only non-2xx ones.
  const wrongStatus = Number(status) < 300 ? r.non_2xx : r.requests - r.non_2xx;
  const bad = (r.unexpected ?? wrongStatus) + r.socket_errors;
  return { kase, server, ...r, bad, rps: r.requests / (r.duration_us / 1e6) };
});

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const rows = [];
for (const run of runs) {
  let row = rows.find((r) => r.kase === run.kase && r.server === run.server);
  if (!row) rows.push(row = { kase: run.kase, server: run.server, runs: [] });
  row.runs.push(run);
}
for (const row of rows) {
  row.rps = median(row.runs.map((r) => r.rps));
  row.p50_us = median(row.runs.map((r) => r.p50_us));
  row.p99_us = median(row.runs.map((r) => r.p99_us));
  row.max_us = Math.max(...row.runs.map((r) => r.max_us));
  row.requests = row.runs.reduce((n, r) => n + r.requests, 0);
  row.bad = row.runs.reduce((n, r) => n + r.bad, 0);
}
const find = (kase, server) => rows.find((r) => r.kase === kase && r.server === server);
const ms = (us) => (us / 1000).toFixed(2);

const header = ['case', 'server', 'requests/s', 'p50 ms', 'p99 ms', 'max ms', 'requests', 'wrong answers',
  'requests/s per round'];
const table = rows.map((r) => [CASES[r.kase] ?? r.kase, r.server, r.rps.toFixed(0), ms(r.p50_us), ms(r.p99_us),
  ms(r.max_us), String(r.requests), String(r.bad), r.runs.map((x) => x.rps.toFixed(0)).join(' ')]);
const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i].length)));
const line = (cells) => cells.map((c, i) => (i < 2 || i === cells.length - 1 ? c.padEnd(widths[i]) : c.padStart(widths[i])))
  .join('  ').trimEnd();
console.log(line(header));
console.log(widths.map((w) => '-'.repeat(w)).join('  '));
for (const row of table) console.log(line(row));
console.log('');

let allMet = true;
for (const kase of ['auth', 'poll']) {
  const ours = find(kase, 'devicelogin');
  const theirs = find(kase, 'oidc-provider');
  if (!ours || !theirs) continue;
  const ratio = ours.rps / theirs.rps;
  const p99Ratio = ours.p99_us / theirs.p99_us;
  const clean = ours.bad === 0 && theirs.bad === 0;
  const ratioMet = ratio >= TARGET_RATIO;
  const p99Met = ours.p99_us < TARGET_P99_MS * 1000;
  allMet &&= ratioMet && p99Met && clean;
  console.log(`${CASES[kase]}: devicelogin/oidc-provider throughput ${ratio.toFixed(1)}x `
    + `(target >= ${TARGET_RATIO}x: ${ratioMet ? 'met' : 'NOT met'}), p99 ratio ${p99Ratio.toFixed(3)}; `
    + `devicelogin p99 ${ms(ours.p99_us)} ms (target < ${TARGET_P99_MS} ms: ${p99Met ? 'met' : 'NOT met'})`
    + `${clean ? '' : ' [some answers were wrong or failed: see the table]'}`);
}
console.log(`targets: ${allMet ? 'all met' : 'NOT all met'}`);
