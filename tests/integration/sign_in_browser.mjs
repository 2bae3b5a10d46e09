#!/usr/bin/env node
// Signs in through oidc-provider's devInteractions pages with plain HTTP, as a browser would, from
// an authorization URL (the browser flow's, RFC 6749 §4.1.1): login (any login is accepted), then
// consent, until the provider redirects to the loopback redirect URI.
//
// As a module: signInUntilCallback(authorizationUrl, redirectUri) resolves to the callback URL
//   (with its code and state), not requested, so a test can send other requests first.
// As a script: node sign_in_browser.mjs AUTHORIZATION_URL REDIRECT_URI
//   follows the redirect to the listener too and exits 0 when it answered 200, 1 otherwise
//   (printing nothing of the URL: it carries the code).
import { pathToFileURL } from 'node:url';

import { CookieJar, decodeEntities, pageTitle, parseForms } from './approve.mjs';

/**
 * Walks oidc-provider's devInteractions pages with plain HTTP from an authorization URL until the
 * provider redirects to `redirectUri`; returns that callback URL (not requested).
 */
export async function signInUntilCallback(authorizationUrl, redirectUri, { timeoutMs = 15000 } = {}) {
  const jar = new CookieJar();
  const deadline = Date.now() + timeoutMs;
  async function request(url, { method = 'GET', form } = {}) {
    let current = url;
    let currentMethod = method;
    let body = form ? new URLSearchParams(form).toString() : undefined;
    for (let hop = 0; hop < 10; hop += 1) {
      if (current.startsWith(redirectUri)) return { callback: current };
      const headers = { accept: 'text/html' };
      const cookie = jar.header(current);
      if (cookie) headers.cookie = cookie;
      if (body !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
      const response = await fetch(current, {
        method: currentMethod, headers, body, redirect: 'manual', signal: AbortSignal.timeout(deadline - Date.now()),
      });
      jar.store(current, response);
      const location = response.headers.get('location');
      if (response.status >= 300 && response.status < 400 && location) {
        await response.arrayBuffer();
        current = new URL(location, current).href;
        currentMethod = 'GET';
        body = undefined;
        continue;
      }
      return { url: current, status: response.status, html: await response.text() };
    }
    throw new Error('signInUntilCallback: too many redirects');
  }
  let page = await request(authorizationUrl);
  for (let step = 0; step < 8; step += 1) {
    if (page.callback) return page.callback;
    const forms = parseForms(page.html, page.url);
    const loginForm = forms.find((f) => f.fields.prompt === 'login');
    const consentForm = forms.find((f) => f.fields.prompt === 'consent');
    if (loginForm) {
      page = await request(loginForm.action, { method: 'POST', form: { prompt: 'login', login: 'alice', password: 'x' } });
    } else if (consentForm) {
      page = await request(consentForm.action, { method: 'POST', form: { prompt: 'consent' } });
    } else {
      throw new Error(`signInUntilCallback: unexpected page (HTTP ${page.status}, "${decodeEntities(pageTitle(page.html))}")`);
    }
  }
  throw new Error('signInUntilCallback: no redirect to the callback');
}


if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [authorizationUrl, redirectUri] = process.argv.slice(2);
  try {
    const callback = await signInUntilCallback(authorizationUrl, redirectUri);
    const answer = await fetch(callback, { signal: AbortSignal.timeout(15000) });
    await answer.arrayBuffer();
    process.exit(answer.status === 200 ? 0 : 1);
  } catch (error) {
    process.stderr.write(`sign_in_browser: ${String(error.message).split('?')[0]}\n`);
    process.exit(1);
  }
}
