// The JSON API as the page uses it: same-origin requests that carry the
// session cookie, and the header every request that changes something
// needs. Errors become ApiError with the API's stable code, the server's
// message, and the words a person reads (explain).

export class ApiError extends Error {
  constructor(status, code, message, retryAfter) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter; // seconds, from Retry-After (503)
  }
}

const pageHeader = { 'Lector-Page': '1' };

async function fail(resp) {
  let code = 'internal', message = resp.statusText;
  try {
    const body = await resp.json();
    if (body && body.error) ({ code, message } = body.error);
  } catch { /* not JSON */ }
  const ra = parseInt(resp.headers.get('Retry-After') || '', 10);
  return new ApiError(resp.status, code, message, Number.isFinite(ra) ? ra : 0);
}

// request sends method to path and returns the parsed JSON (null for 204).
export async function request(method, path, body, headers = {}) {
  const opts = { method, headers: { ...headers }, credentials: 'same-origin' };
  if (method !== 'GET' && method !== 'HEAD') Object.assign(opts.headers, pageHeader);
  if (body instanceof FormData) opts.body = body;
  else if (body !== undefined) {
    opts.body = JSON.stringify(body);
    opts.headers['Content-Type'] = 'application/json';
  }
  const resp = await fetch(path, opts);
  if (!resp.ok) {
    const err = await fail(resp);
    if (err.status === 401) window.dispatchEvent(new CustomEvent('lector-unauthorized'));
    throw err;
  }
  if (resp.status === 204) return null;
  const type = resp.headers.get('Content-Type') || '';
  return type.startsWith('application/json') ? resp.json() : resp.text();
}

export const get = (path) => request('GET', path);

// streamFailed is an EventSource's error handler: after a network error
// the browser reconnects by itself, but an HTTP error (a 401 once the
// session ended, e.g. the server restarted) closes the stream for good
// without saying why. Then a cheap API call asks: a 401 there ends the
// session on the page (request's lector-unauthorized); otherwise reopen()
// is called a little later while alive() holds.
export function streamFailed(es, reopen, alive) {
  if (es.readyState !== EventSource.CLOSED) return;
  const later = (ms) => setTimeout(() => { if (alive()) reopen(); }, ms);
  get('/v1/tasks?limit=1').then(() => later(2000), (ex) => {
    if (ex instanceof ApiError && ex.status === 401) return;
    later(5000);
  });
}

const bytes = (n) => {
  if (!n) return '0 B';
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  const i = Math.min(u.length - 1, Math.floor(Math.log(n) / Math.log(1024)));
  return `${(n / 1024 ** i).toFixed(i ? 1 : 0)} ${u[i]}`;
};
export { bytes as formatBytes };

// humane writes a server message's limits in units a person reads:
// "… 104857600 bytes" as 100 MiB, a pixel limit as megapixels (MP).
function humane(m) {
  return m.replace(/(\d{4,}) bytes/g, (_, n) => bytes(Number(n)).replace('.0 ', ' '))
    .replace(/(\d+)×(\d+) pixels, over the limit of (\d+)/, (_, w, h, n) => `${w}×${h} pixels (${(w * h / 1e6).toFixed(1)} MP), over the limit of ${Number(n) / 1e6} MP`);
}

// explain turns an API error into a sentence for a person.
export function explain(err) {
  if (!(err instanceof ApiError)) return `The server could not be reached (${err.message}).`;
  const m = humane(err.message);
  switch (err.code) {
    case 'too_large': return `This file is too large for this server. (${m})`;
    case 'unsupported_media_type': return 'This is not an image or PDF that Lector reads: use PNG, JPEG, TIFF, BMP, WebP, GIF or PDF.';
    case 'encrypted_pdf': return 'This PDF is encrypted: remove its password and send it again.';
    case 'invalid_document': return `This file is damaged or cannot be read. (${m})`;
    case 'too_many_pages': return `This document has more pages than this server accepts. (${m})`;
    case 'too_many_pixels': return `A page of this document is larger than this server accepts. (${m})`;
    case 'queue_full':
    case 'insufficient_memory':
    case 'unavailable': {
      // The server's message ends with its own "try again in …": said
      // once here, from Retry-After.
      const why = m.replace(/[;,.]?\s*try again in [^;.]*\.?$/i, '').trim();
      return `The server is busy — try again in ${err.retryAfter || 5} s.${why ? ` (${why})` : ''}`;
    }
    case 'unknown_model': return `That model is not installed on this server. (${m})`;
    case 'device_unavailable': return `That device cannot run this model here. (${m})`;
    case 'unauthorized': return 'Log in first: this server needs a token.';
    case 'forbidden': return `The server refused this request. (${m})`;
    case 'not_found': return 'There is no such task (or it is not yours).';
    case 'not_finished': return 'The task has not finished yet.';
    case 'gone': return `The results were deleted. (${m})`;
    case 'pdf_not_written': return `The searchable PDF could not be made; the other formats were. (${m})`;
    case 'timeout': return `The server ran out of time. (${m})`;
    case 'invalid_argument': return `The server refused an option: ${m}`;
    default: return `Something went wrong on the server (${err.code}). ${m}`;
  }
}
