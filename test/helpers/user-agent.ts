import fetchCookie from 'fetch-cookie';
import { CookieJar } from 'tough-cookie';

export interface Page {
  url: string;
  status: number;
  html: string;
  headers: Headers;
}

/**
 * A person's browser without JavaScript: a cookie jar, redirects followed one by one (so a
 * redirect to the merchant's callback can be caught), and forms posted as browsers post them.
 */
export class UserAgent {
  readonly jar = new CookieJar();
  private readonly fetch = fetchCookie(fetch, this.jar);

  constructor(private readonly stopAt: (url: string) => boolean = () => false) {}

  /** Follows redirects from `url` until a page is served or a stop URL (the merchant) is reached. */
  async navigate(url: string, init: RequestInit = {}): Promise<Page> {
    let response = await this.fetch(url, { ...init, redirect: 'manual' });
    let current = url;
    for (let hops = 0; response.status >= 300 && response.status < 400; hops += 1) {
      if (hops > 20) throw new Error('too many redirects');
      current = new URL(response.headers.get('location')!, current).toString();
      if (this.stopAt(current)) return { url: current, status: response.status, html: '', headers: response.headers };
      response = await this.fetch(current, { redirect: 'manual' });
    }
    return { url: current, status: response.status, html: await response.text(), headers: response.headers };
  }

  /** Posts a multipart form (a <form enctype="multipart/form-data"> with files) and follows redirects. */
  upload(url: string, form: FormData): Promise<Page> {
    return this.navigate(url, { method: 'POST', body: form });
  }

  /** Posts a urlencoded form (as a browser submits <form method="post">) and follows redirects. */
  submit(url: string, fields: Record<string, string>): Promise<Page> {
    return this.navigate(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields).toString(),
    });
  }
}

/** The absolute action URLs of the page's post forms, in order. */
export function formActions(page: Page): string[] {
  return [...page.html.matchAll(/<form[^>]*method="post"[^>]*action="([^"]+)"/g)].map((m) => new URL(m[1]!, page.url).toString());
}

export function formAction(page: Page, suffix: string): string {
  const action = formActions(page).find((a) => new URL(a).pathname.endsWith(suffix));
  if (!action) throw new Error(`no form ending in ${suffix} on ${page.url} (status ${page.status}):\n${page.html.slice(0, 2000)}`);
  return action;
}
