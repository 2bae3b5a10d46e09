#!/usr/bin/env node
// Runs one node:test suite for ctest and turns its result into an exit code that cannot hide a
// failure behind a skip (a skipped test that should have run is a bug nobody sees):
//   node scripts/run-node-suite.mjs [--name N] [--allow-skip REGEX]... [--via PROGRAM]... -- FILE [NODE_ARG...]
// It runs `[PROGRAM...] node --test --test-reporter=tap --test-concurrency=1 [NODE_ARG...] FILE`,
// passes the TAP output through, and reads every test line and the summary (# tests, pass, fail,
// cancelled, skipped, todo). Exit codes:
//   1   anything failed or was cancelled, node exited non-zero, no summary was printed, no test ran,
//       a whole suite (describe) was skipped, or something was skipped under CI (env CI set, not
//       "false"/"0") whose reason matches no --allow-skip pattern;
//   77  nothing failed but something was skipped (not under CI): ctest's SKIP_RETURN_CODE shows it
//       as Skipped, never Passed;
//   0   every test ran and passed (skips whose reasons are allow-listed are reported, not hidden).
// A --via program exiting 77 (scripts/with-keyring.sh without dbus/gnome-keyring) is a skip too:
// 77 outside CI, a failure under CI, where scripts/setup-deps.sh --tests installs what it needs.
// The last line printed is one summary line: "node-suite NAME: RESULT (tests …, pass …, …)".

import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const EXIT_FAILED = 1;
const EXIT_SKIPPED = 77;

function usage(message) {
  process.stderr.write(`run-node-suite: ${message}\n`
    + 'usage: run-node-suite.mjs [--name N] [--allow-skip REGEX]... [--via PROGRAM]... -- FILE [NODE_ARG...]\n');
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { name: undefined, allowSkip: [], via: [], file: undefined, nodeArgs: [] };
  let i = 0;
  for (; i < argv.length; i += 1) {
    const arg = argv[i];
    if (arg === '--') { i += 1; break; }
    const value = argv[i + 1];
    if (value === undefined) usage(`${arg} needs a value`);
    if (arg === '--name') opts.name = value;
    else if (arg === '--allow-skip') opts.allowSkip.push(new RegExp(value));
    else if (arg === '--via') opts.via.push(value);
    else usage(`unknown option ${arg}`);
    i += 1;
  }
  opts.file = argv[i];
  opts.nodeArgs = argv.slice(i + 1);
  if (!opts.file) usage('no test file');
  opts.name ??= path.basename(opts.file);
  return opts;
}

/** Whether we run under CI (the convention of GitHub Actions, GitLab CI and most others). */
export function underCi(env = process.env) {
  const value = (env.CI ?? '').trim().toLowerCase();
  return value !== '' && value !== 'false' && value !== '0';
}

/**
 * Reads node's TAP output. Returns { summary: {tests, pass, fail, cancelled, skipped, todo} or
 * undefined when the summary is missing, skips: [{name, reason, suite}], todos: [...], failures:
 * [name...] }. Names in node's TAP escape '#' as '\#', so " # SKIP" only ever starts a directive.
 */
export function parseTap(text) {
  const lines = text.split('\n');
  const skips = [];
  const todos = [];
  const failures = [];
  const summary = {};
  const testLine = /^(\s*)(ok|not ok) \d+ - (.*?)(?: # (SKIP|TODO)\b ?(.*))?$/;
  for (let i = 0; i < lines.length; i += 1) {
    const line = lines[i];
    const summaryMatch = /^# (tests|suites|pass|fail|cancelled|skipped|todo) (\d+)$/.exec(line);
    if (summaryMatch) {
      summary[summaryMatch[1]] = Number(summaryMatch[2]);
      continue;
    }
    const match = testLine.exec(line);
    if (!match) continue;
    const [, indent, status, name, directive, reason] = match;
    // The YAML block after the line says whether it is a suite (describe) or a test.
    let suite = false;
    if (lines[i + 1]?.trim() === '---') {
      for (let j = i + 2; j < lines.length && lines[j].trim() !== '...'; j += 1) {
        if (lines[j].startsWith(`${indent}  type: 'suite'`)) suite = true;
      }
    }
    const entry = { name, reason: (reason ?? '').trim(), suite };
    if (directive === 'SKIP') skips.push(entry);
    else if (directive === 'TODO') todos.push(entry);
    else if (status === 'not ok' && !suite) failures.push(name);
  }
  const complete = ['tests', 'pass', 'fail', 'cancelled', 'skipped', 'todo'].every((key) => key in summary);
  return { summary: complete ? summary : undefined, skips, todos, failures };
}

/**
 * The verdict for one run: { code, result, notes: [string] }. `exitCode` is node's (or the --via
 * program's) exit code, `ci` whether we run under CI.
 */
export function judge({ tap, exitCode, ci, allowSkip = [] }) {
  const notes = [];
  const { summary, skips, todos, failures } = tap;
  const allowed = (entry) => !entry.suite && allowSkip.some((re) => re.test(entry.reason));
  const hidden = [...skips, ...todos].filter((entry) => !allowed(entry));
  for (const entry of skips) {
    notes.push(`${entry.suite ? 'suite' : 'test'} skipped${allowed(entry) ? ' (allowed)' : ''}: `
      + `${entry.name}: ${entry.reason || 'no reason given'}`);
  }
  for (const entry of todos) notes.push(`todo: ${entry.name}: ${entry.reason || 'no reason given'}`);
  for (const name of failures) notes.push(`failed: ${name}`);

  if (!summary) return { code: EXIT_FAILED, result: `FAILED (no TAP summary; exit code ${exitCode})`, notes };
  if (summary.fail > 0 || summary.cancelled > 0) return { code: EXIT_FAILED, result: 'FAILED', notes };
  if (exitCode !== 0) return { code: EXIT_FAILED, result: `FAILED (exit code ${exitCode})`, notes };
  if (skips.some((entry) => entry.suite)) {
    return { code: EXIT_FAILED, result: 'FAILED (a whole suite was skipped)', notes };
  }
  if (summary.tests === 0) return { code: EXIT_FAILED, result: 'FAILED (no test ran)', notes };
  if (hidden.length > 0) {
    return ci ? { code: EXIT_FAILED, result: 'FAILED (skipped under CI, reason not allow-listed)', notes }
      : { code: EXIT_SKIPPED, result: 'SKIPPED', notes };
  }
  return { code: 0, result: 'PASSED', notes };
}

function formatCounts(summary) {
  if (!summary) return 'no summary';
  return ['tests', 'pass', 'fail', 'cancelled', 'skipped', 'todo'].map((key) => `${key} ${summary[key]}`).join(', ');
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const command = [...opts.via, process.execPath, '--test', '--test-reporter=tap', '--test-concurrency=1',
    ...opts.nodeArgs, opts.file];
  // Run as a top-level `node --test` even when this wrapper itself runs inside one (its self-test):
  // with NODE_TEST_CONTEXT set, node would report to a parent runner instead of printing TAP.
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  const child = spawn(command[0], command.slice(1), { env, stdio: ['ignore', 'pipe', 'inherit'] });
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP']) {
    process.on(signal, () => { child.kill(signal); });
  }
  let text = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk) => {
    text += chunk;
    process.stdout.write(chunk);
  });
  const exitCode = await new Promise((resolve) => {
    child.once('error', (error) => {
      process.stderr.write(`run-node-suite: cannot start ${command[0]}: ${error.message}\n`);
      resolve(127);
    });
    child.once('close', (code, signal) => resolve(code ?? 128 + (signal === 'SIGKILL' ? 9 : 15)));
  });

  const ci = underCi();
  let verdict;
  if (opts.via.length > 0 && exitCode === EXIT_SKIPPED) {
    const why = `${opts.via[0]} could not provide its environment (exit ${EXIT_SKIPPED})`;
    verdict = ci ? { code: EXIT_FAILED, result: `FAILED (${why}; under CI this must work)`, notes: [] }
      : { code: EXIT_SKIPPED, result: `SKIPPED (${why})`, notes: [] };
  } else {
    verdict = judge({ tap: parseTap(text), exitCode, ci, allowSkip: opts.allowSkip });
  }
  const counts = formatCounts(parseTap(text).summary);
  for (const note of verdict.notes) process.stdout.write(`# node-suite ${opts.name}: ${note}\n`);
  process.stdout.write(`node-suite ${opts.name}: ${verdict.result} (${counts}${ci ? '; CI' : ''})\n`);
  process.exit(verdict.code);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await main();
}
