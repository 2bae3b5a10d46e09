#!/usr/bin/env node
// Completes oidc-provider's devInteractions device flow pages with plain HTTP, as a user's browser
// would: user-code page (xsrf) -> code confirmation -> login (any login is accepted) -> consent ->
// success page. With {deny: true} it presses "Abort" on the code confirmation step instead, which
// makes the token endpoint answer access_denied; with {deny: 'consent'} it signs in first and
// aborts at the consent prompt (also access_denied).
//
// As a module: import { approve } from './approve.mjs';
//   await approve(verificationUriCompleteOrUri, userCode, { deny, login, timeoutMs })
//   resolves to { outcome: 'approved' | 'denied', steps: [...page names visited] }, throws on
//   anything unexpected (the message names the page, never a cookie or a token).
// As a script: node approve.mjs URI USER_CODE [--deny | --deny-at-consent] [--login NAME]
//   exits 0 when the outcome is the one asked for, 1 otherwise.

import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';

// A minimal cookie jar: enough for one provider on one origin (name + path, expiry by deletion).
export class CookieJar {
  #cookies = new Map(); // key `${path}\u0000${name}` -> { name, value, path }

  store(requestUrl, response) {
    const setCookies = response.headers.getSetCookie?.() ?? [];
    for (const line of setCookies) {
      const [pair, ...attributes] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      let path = '/';
      let expired = value === '';
      for (const attribute of attributes) {
        const [rawKey, ...rest] = attribute.split('=');
        const key = rawKey.trim().toLowerCase();
        const attributeValue = rest.join('=').trim();
        if (key === 'path' && attributeValue.startsWith('/')) path = attributeValue;
        if (key === 'max-age' && Number(attributeValue) <= 0) expired = true;
        if (key === 'expires' && Date.parse(attributeValue) <= Date.now()) expired = true;
      }
      const key = `${path}\u0000${name}`;
      if (expired) this.#cookies.delete(key);
      else this.#cookies.set(key, { name, value, path });
    }
    return requestUrl;
  }

  header(url) {
    const { pathname } = new URL(url);
    const matching = [...this.#cookies.values()].filter(
      (c) => pathname === c.path || pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`),
    );
    // RFC 6265 §5.4: longer paths first.
    matching.sort((a, b) => b.path.length - a.path.length);
    return matching.map((c) => `${c.name}=${c.value}`).join('; ');
  }
}

const ENTITIES = { amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'", '#x27': "'", apos: "'" };
export function decodeEntities(text) {
  return text.replace(/&(amp|lt|gt|quot|#39|#x27|apos);/g, (_, e) => ENTITIES[e]);
}

function attributes(tag) {
  const result = {};
  for (const m of tag.matchAll(/([a-zA-Z_:][-a-zA-Z0-9_:.]*)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?/g)) {
    result[m[1].toLowerCase()] = decodeEntities(m[2] ?? m[3] ?? m[4] ?? '');
  }
  return result;
}

/** Every <form> of a page: { id, action, method, fields: {hidden and text input names -> value} }. */
export function parseForms(html, baseUrl) {
  const forms = [];
  for (const m of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)) {
    const attrs = attributes(m[1]);
    const fields = {};
    const inputTypes = {};
    for (const input of m[2].matchAll(/<input\b([^>]*)>/gi)) {
      const a = attributes(input[1]);
      if (!a.name) continue;
      fields[a.name] = a.value ?? '';
      inputTypes[a.name] = (a.type ?? 'text').toLowerCase();
    }
    forms.push({
      id: attrs.id ?? '',
      action: new URL(attrs.action ?? '', baseUrl).href,
      method: (attrs.method ?? 'get').toUpperCase(),
      fields,
      inputTypes,
    });
  }
  return forms;
}

export function pageTitle(html) {
  return decodeEntities(/<title>([\s\S]*?)<\/title>/i.exec(html)?.[1]?.trim() ?? '');
}

/** Plain-HTTP page walker with its own cookie jar and an overall deadline. */
export class Browser {
  constructor(timeoutMs) {
    this.jar = new CookieJar();
    this.deadline = Date.now() + timeoutMs;
  }

  // Follows redirects by hand so that every Set-Cookie along the way lands in the jar.
  async request(url, { method = 'GET', form } = {}) {
    let currentUrl = url;
    let currentMethod = method;
    let body = form ? new URLSearchParams(form).toString() : undefined;
    for (let hop = 0; hop < 10; hop += 1) {
      const remaining = this.deadline - Date.now();
      if (remaining <= 0) throw new Error('approve: timed out');
      const headers = { accept: 'text/html' };
      const cookie = this.jar.header(currentUrl);
      if (cookie) headers.cookie = cookie;
      if (body !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
      const response = await fetch(currentUrl, {
        method: currentMethod,
        headers,
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(remaining),
      });
      this.jar.store(currentUrl, response);
      const location = response.headers.get('location');
      if (response.status >= 300 && response.status < 400 && location) {
        await response.arrayBuffer();
        currentUrl = new URL(location, currentUrl).href;
        if (response.status !== 307 && response.status !== 308) {
          currentMethod = 'GET';
          body = undefined;
        }
        continue;
      }
      return { url: currentUrl, status: response.status, html: await response.text() };
    }
    throw new Error('approve: too many redirects');
  }
}

/**
 * Approves (or denies) one user code through oidc-provider's devInteractions pages.
 * `uri` may be verification_uri_complete (user code prefilled) or verification_uri.
 */
export async function approve(uri, userCode, { deny = false, login = 'alice', timeoutMs = 15000 } = {}) {
  const browser = new Browser(timeoutMs);
  const steps = [];
  const denyAtConfirm = deny === true || deny === 'confirm';
  const denyAtConsent = deny === 'consent';

  let page = await browser.request(uri);
  for (let step = 0; step < 12; step += 1) {
    const title = pageTitle(page.html);
    const forms = parseForms(page.html, page.url);
    const byId = (id) => forms.find((f) => f.id === id);
    const byPrompt = (prompt) => forms.find((f) => f.fields.prompt === prompt);

    if (title === 'Sign-in Success') {
      steps.push('success');
      return { outcome: 'approved', steps };
    }
    if (/The Sign-in request was interrupted/.test(page.html)) {
      steps.push('aborted');
      return { outcome: 'denied', steps };
    }
    if (/The code you entered is incorrect/.test(page.html)) {
      throw new Error('approve: the provider did not accept the user code (wrong, expired or already used)');
    }

    const input = byId('op.deviceInputForm');
    const autoPost = title === 'Submitting Callback' ? forms[0] : undefined;
    const confirmForm = byId('op.deviceConfirmForm');
    const loginForm = byPrompt('login');
    const consentForm = byPrompt('consent');

    if (input || autoPost) {
      // The user-code page, or verification_uri_complete's self-submitting form. Answer with the
      // code and the decision in one POST, as the brief of the confirmation page allows.
      const form = input ?? autoPost;
      steps.push(input ? 'user_code' : 'user_code_prefilled');
      if (!('xsrf' in form.fields)) throw new Error('approve: no xsrf field on the user-code page');
      const fields = { xsrf: form.fields.xsrf, user_code: form.fields.user_code || userCode };
      if (autoPost && form.fields.user_code && userCode
          && normalizeCode(form.fields.user_code) !== normalizeCode(userCode)) {
        throw new Error('approve: the prefilled user code differs from the one shown');
      }
      if (denyAtConfirm) fields.abort = 'yes';
      else fields.confirm = 'yes';
      page = await browser.request(form.action, { method: 'POST', form: fields });
    } else if (confirmForm) {
      steps.push('confirm');
      const fields = { ...confirmForm.fields };
      if (denyAtConfirm) {
        delete fields.confirm;
        fields.abort = 'yes';
      }
      page = await browser.request(confirmForm.action, { method: 'POST', form: fields });
    } else if (loginForm) {
      steps.push('login');
      page = await browser.request(loginForm.action, {
        method: 'POST',
        form: { prompt: 'login', login, password: 'any password' },
      });
    } else if (consentForm) {
      steps.push('consent');
      if (denyAtConsent) {
        const abort = /href="([^"]*\/abort)"/.exec(page.html)?.[1];
        if (!abort) throw new Error('approve: no abort link on the consent page');
        page = await browser.request(new URL(decodeEntities(abort), page.url).href);
      } else {
        page = await browser.request(consentForm.action, { method: 'POST', form: { prompt: 'consent' } });
      }
    } else {
      const text = page.html.replace(/<style[\s\S]*?<\/style>/gi, '').replace(/<[^>]+>/g, ' ')
        .replace(/\s+/g, ' ').trim().slice(0, 300);
      throw new Error(`approve: unexpected page (HTTP ${page.status}, title "${title}"): ${text}`);
    }
  }
  throw new Error(`approve: did not finish after ${steps.join(' -> ')}`);
}

function normalizeCode(code) {
  return code.replace(/[^a-zA-Z0-9]/g, '').toUpperCase();
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      deny: { type: 'boolean' },
      'deny-at-consent': { type: 'boolean' },
      login: { type: 'string' },
    },
  });
  if (positionals.length < 1 || positionals.length > 2) {
    process.stderr.write('usage: node approve.mjs URI [USER_CODE] [--deny | --deny-at-consent] [--login NAME]\n');
    process.exit(2);
  }
  const deny = values['deny-at-consent'] ? 'consent' : Boolean(values.deny);
  try {
    const result = await approve(positionals[0], positionals[1] ?? '', { deny, login: values.login });
    process.stdout.write(`${JSON.stringify(result)}\n`);
    process.exit(result.outcome === (deny ? 'denied' : 'approved') ? 0 : 1);
  } catch (error) {
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  }
}
