#!/usr/bin/env node
// Prints bench/server/run.sh's table from its results file, one line per measurement:
//   <case>\t<server>\t<expected HTTP status>\t<wrk BENCH_RESULT json>
// and the ratios devicelogin/oidc-provider, checked against issue 3's targets.

import * as fs from 'node:fs';

const TARGET_RATIO = 5;
const TARGET_P99_MS = 5;
const CASES = { auth: 'device authorization', poll: 'pending poll' };

const rows = fs.readFileSync(process.argv[2], 'utf8').split('\n').filter(Boolean).map((line) => {
  const [kase, server, status, json] = line.split('\t');
  const r = JSON.parse(json);
  // Without body checks, a 200 case must have no non-2xx answer and a 400 case only non-2xx ones.
  const wrongStatus = Number(status) < 300 ? r.non_2xx : r.requests - r.non_2xx;
  const bad = (r.unexpected ?? wrongStatus) + r.socket_errors;
  return { kase, server, ...r, wrongStatus, bad, rps: r.requests / (r.duration_us / 1e6) };
});
const find = (kase, server) => rows.find((r) => r.kase === kase && r.server === server);
const ms = (us) => (us / 1000).toFixed(2);

const header = ['case', 'server', 'requests/s', 'p50 ms', 'p99 ms', 'max ms', 'requests', 'wrong answers'];
const table = rows.map((r) => [CASES[r.kase] ?? r.kase, r.server, r.rps.toFixed(0), ms(r.p50_us), ms(r.p99_us),
  ms(r.max_us), String(r.requests), String(r.bad)]);
const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i].length)));
const line = (cells) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
console.log(line(header));
console.log(widths.map((w) => '-'.repeat(w)).join('  '));
for (const row of table) console.log(line(row));
console.log('');

let allMet = true;
for (const kase of Object.keys(CASES)) {
  const ours = find(kase, 'devicelogin');
  const theirs = find(kase, 'oidc-provider');
  if (!ours || !theirs) continue;
  const ratio = ours.rps / theirs.rps;
  const p99Ratio = ours.p99_us / theirs.p99_us;
  const clean = ours.bad === 0 && theirs.bad === 0;
  const ratioMet = ratio >= TARGET_RATIO;
  const p99Met = ours.p99_us < TARGET_P99_MS * 1000;
  allMet &&= ratioMet && p99Met && clean;
  console.log(`${CASES[kase]}: devicelogin/oidc-provider throughput ${ratio.toFixed(2)}x `
    + `(target >= ${TARGET_RATIO}x: ${ratioMet ? 'met' : 'NOT met'}), p99 ratio ${p99Ratio.toFixed(2)}, `
    + `devicelogin p99 ${ms(ours.p99_us)} ms (target < ${TARGET_P99_MS} ms: ${p99Met ? 'met' : 'NOT met'})`
    + `${clean ? '' : ' [some answers were unexpected or failed: see the table]'}`);
}
console.log(`targets: ${allMet ? 'all met' : 'NOT all met'}`);
