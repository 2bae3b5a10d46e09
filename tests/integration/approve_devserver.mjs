#!/usr/bin/env node
// Completes the approval pages of `devicelogin serve` with plain HTTP: enter code (CSRF
// field, code prefilled from verification_uri_complete) -> "Sign in" (demo user alice/alice by
// default) -> "Approve" or "Deny" -> result page.
//
// As a module: await approveDevserver(uri, userCode, { deny, login, password, timeoutMs })
//   resolves to { outcome: 'approved' | 'denied', steps }, throws on anything unexpected.
// As a script: node approve_devserver.mjs URI USER_CODE [--deny] [--login NAME] [--password PW]

import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';

import { Browser, pageTitle, parseForms } from './approve.mjs';

function visibleText(html) {
  return html.replace(/<style[\s\S]*?<\/style>/gi, '').replace(/<[^>]+>/g, ' ')
    .replace(/\s+/g, ' ').trim().slice(0, 300);
}

export async function approveDevserver(uri, userCode, {
  deny = false, login = 'alice', password, timeoutMs = 15000,
} = {}) {
  const browser = new Browser(timeoutMs);
  const steps = [];
  let page = await browser.request(uri);
  for (let step = 0; step < 8; step += 1) {
    const title = pageTitle(page.html);
    const forms = parseForms(page.html, page.url);
    const codeForm = forms.find((f) => 'user_code' in f.fields && f.method === 'POST');
    const signInForm = forms.find((f) => 'username' in f.fields && 'password' in f.fields);
    const decisionForm = forms.find((f) => /\/device\/decision$/.test(new URL(f.action).pathname));

    if (/Device connected/i.test(title)) {
      steps.push('success');
      return { outcome: 'approved', steps };
    }
    if (/Access denied/i.test(title)) {
      steps.push('denied');
      return { outcome: 'denied', steps };
    }
    if (decisionForm) {
      steps.push('consent');
      page = await browser.request(decisionForm.action, {
        method: 'POST',
        form: { ...decisionForm.fields, decision: deny ? 'deny' : 'approve' },
      });
    } else if (signInForm) {
      if (steps.includes('login')) throw new Error(`approve: sign-in refused: ${visibleText(page.html)}`);
      steps.push('login');
      page = await browser.request(signInForm.action, {
        method: 'POST',
        form: { ...signInForm.fields, username: login, password: password ?? login },
      });
    } else if (codeForm) {
      if (steps.includes('user_code')) throw new Error(`approve: user code refused: ${visibleText(page.html)}`);
      steps.push('user_code');
      if (!codeForm.fields.csrf) throw new Error('approve: no CSRF field on the code page');
      page = await browser.request(codeForm.action, {
        method: 'POST',
        form: { ...codeForm.fields, user_code: codeForm.fields.user_code || userCode },
      });
    } else {
      throw new Error(`approve: unexpected page (HTTP ${page.status}, title "${title}"): ${visibleText(page.html)}`);
    }
  }
  throw new Error(`approve: did not finish after ${steps.join(' -> ')}`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { deny: { type: 'boolean' }, login: { type: 'string' }, password: { type: 'string' } },
  });
  if (positionals.length < 1 || positionals.length > 2) {
    process.stderr.write('usage: node approve_devserver.mjs URI [USER_CODE] [--deny] [--login NAME] [--password PW]\n');
    process.exit(2);
  }
  try {
    const result = await approveDevserver(positionals[0], positionals[1] ?? '', {
      deny: Boolean(values.deny), login: values.login, password: values.password,
    });
    process.stdout.write(`${JSON.stringify(result)}\n`);
    process.exit(result.outcome === (values.deny ? 'denied' : 'approved') ? 0 : 1);
  } catch (error) {
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  }
}
