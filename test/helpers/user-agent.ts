import fetchCookie from 'fetch-cookie';
import { CookieJar } from 'tough-cookie';

export interface Page {
  url: string;
  status: number;
  html: string;
  headers: Headers;
}

/** The field name of the platform's CSRF token (src/http/csrf.ts). */
export const CSRF_FIELD = '_csrf';

/**
 * A person's browser without JavaScript: a cookie jar, redirects followed one by one (so a
 * redirect to the merchant's callback can be caught), and forms posted as browsers post them,
 * hidden `_csrf` field included.
 */
export class UserAgent {
  readonly jar = new CookieJar();
  private readonly fetch = fetchCookie(fetch, this.jar);
  /** The hidden `_csrf` of every post form this browser was shown, by absolute action URL. */
  private readonly csrfTokens = new Map<string, string>();
  private lastPage?: Page;

  /** `userAgent`: the User-Agent header this browser sends (else fetch's own). */
  constructor(
    private readonly stopAt: (url: string) => boolean = () => false,
    private readonly userAgent?: string,
  ) {}

  /** Follows redirects from `url` until a page is served or a stop URL (the merchant) is reached. */
  async navigate(url: string, init: RequestInit = {}): Promise<Page> {
    const identify = (headers?: RequestInit['headers']) => {
      const all = new Headers(headers);
      if (this.userAgent) all.set('user-agent', this.userAgent);
      return all;
    };
    let response = await this.fetch(url, { ...init, headers: identify(init.headers), redirect: 'manual' });
    let current = url;
    for (let hops = 0; response.status >= 300 && response.status < 400; hops += 1) {
      if (hops > 20) throw new Error('too many redirects');
      current = new URL(response.headers.get('location')!, current).toString();
      if (this.stopAt(current))
        return this.shown({ url: current, status: response.status, html: '', headers: response.headers });
      response = await this.fetch(current, { headers: identify(), redirect: 'manual' });
    }
    return this.shown({
      url: current,
      status: response.status,
      html: await response.text(),
      headers: response.headers,
    });
  }

  private shown(page: Page): Page {
    this.lastPage = page;
    for (const form of postForms(page)) if (form.csrf) this.csrfTokens.set(form.action, form.csrf);
    return page;
  }

  /**
   * The `_csrf` a browser would send to `url`: the one in the last page's form posting there, else
   * the one in the last form posting there on an earlier page (a form kept open in another tab).
   */
  csrfToken(url: string): string | undefined {
    const action = new URL(url).toString();
    const onLastPage = this.lastPage && postForms(this.lastPage).find((form) => form.action === action)?.csrf;
    return onLastPage ?? this.csrfTokens.get(action);
  }

  /** Posts a multipart form (a <form enctype="multipart/form-data"> with files) and follows redirects. */
  upload(url: string, form: FormData): Promise<Page> {
    const csrf = form.has(CSRF_FIELD) ? undefined : this.csrfToken(url);
    let body = form;
    if (csrf) {
      // Hidden fields come first, as the templates place them.
      body = new FormData();
      body.append(CSRF_FIELD, csrf);
      for (const [name, value] of form.entries()) body.append(name, value);
    }
    return this.navigate(url, { method: 'POST', body });
  }

  /** Posts a urlencoded form (as a browser submits <form method="post">) and follows redirects. */
  submit(url: string, fields: Record<string, string>): Promise<Page> {
    const csrf = CSRF_FIELD in fields ? undefined : this.csrfToken(url);
    return this.navigate(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(csrf ? { [CSRF_FIELD]: csrf, ...fields } : fields).toString(),
    });
  }
}

/** The page's post forms: absolute action URL and hidden `_csrf` value. */
function postForms(page: Page): Array<{ action: string; csrf?: string }> {
  return [...page.html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/g)].flatMap(([, attributes = '', content = '']) => {
    const action = /\baction="([^"]+)"/.exec(attributes)?.[1];
    if (!/\bmethod="post"/.test(attributes) || !action) return [];
    const csrf = new RegExp(`<input type="hidden" name="${CSRF_FIELD}" value="([^"]*)"`).exec(content)?.[1];
    return [{ action: new URL(action, page.url).toString(), csrf }];
  });
}

/** The absolute action URLs of the page's post forms, in order. */
export function formActions(page: Page): string[] {
  return [...page.html.matchAll(/<form[^>]*method="post"[^>]*action="([^"]+)"/g)].map((m) =>
    new URL(m[1]!, page.url).toString(),
  );
}

export function formAction(page: Page, suffix: string): string {
  const action = formActions(page).find((a) => new URL(a).pathname.endsWith(suffix));
  if (!action)
    throw new Error(`no form ending in ${suffix} on ${page.url} (status ${page.status}):\n${page.html.slice(0, 2000)}`);
  return action;
}
