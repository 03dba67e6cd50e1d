import assert from 'node:assert/strict';
import { parseHintValue, parseRetryAfter } from '../../../lib/core/retry-after';

const NOW = Date.UTC(2026, 10, 27, 10, 0, 0); // 2026-11-27T10:00:00Z
const epochSeconds = (ms: number) => String(Math.floor(ms / 1000));

describe('parseRetryAfter', () => {
  it('reads delta-seconds from Retry-After, any header case', () => {
    assert.equal(parseRetryAfter({ 'Retry-After': '30' }, undefined, NOW), 30_000);
    assert.equal(parseRetryAfter({ 'retry-after': '0' }, undefined, NOW), 0);
    assert.equal(parseRetryAfter({ 'RETRY-AFTER': ' 2.5 ' }, undefined, NOW), 2_500);
  });

  it('reads an HTTP-date from Retry-After', () => {
    const at = new Date(NOW + 90_000).toUTCString(); // "Fri, 27 Nov 2026 10:01:30 GMT"
    assert.equal(parseRetryAfter({ 'retry-after': at }, undefined, NOW), 90_000);
  });

  it('turns a date in the past into 0, not a negative wait', () => {
    assert.equal(parseRetryAfter({ 'retry-after': new Date(NOW - 5_000).toUTCString() }, undefined, NOW), 0);
    assert.equal(parseRetryAfter({ 'x-ratelimit-retryafter': epochSeconds(NOW - 5_000) }, undefined, NOW), 0);
  });

  it('reads CrowdStrike X-Ratelimit-Retryafter as epoch seconds', () => {
    assert.equal(parseRetryAfter({ 'X-Ratelimit-Retryafter': epochSeconds(NOW + 42_000) }, undefined, NOW), 42_000);
  });

  it('reads GitHub X-RateLimit-Reset epoch only when X-RateLimit-Remaining is 0', () => {
    const reset = epochSeconds(NOW + 600_000);
    assert.equal(parseRetryAfter({ 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': reset }, undefined, NOW), 600_000);
    // Sent on every answer: with calls remaining it is not a reason to wait (secondary limit without hint).
    assert.equal(parseRetryAfter({ 'x-ratelimit-remaining': '17', 'x-ratelimit-reset': reset }, undefined, NOW), undefined);
  });

  it('reads Jira X-RateLimit-Reset ISO-8601 (minute precision, Z)', () => {
    assert.equal(parseRetryAfter({ 'X-RateLimit-Reset': '2026-11-27T10:15Z' }, undefined, NOW), 15 * 60_000);
    assert.equal(parseRetryAfter({ 'X-RateLimit-Reset': '2026-11-27T10:00:30+00:00' }, undefined, NOW), 30_000);
    // No zone designator: read as UTC, not as the machine's local time.
    assert.equal(parseRetryAfter({ 'X-RateLimit-Reset': '2026-11-27T10:01' }, undefined, NOW), 60_000);
  });

  it('prefers Retry-After over vendor reset headers', () => {
    const headers = { 'retry-after': '7', 'x-ratelimit-reset': '2026-11-27T10:15Z' };
    assert.equal(parseRetryAfter(headers, undefined, NOW), 7_000);
  });

  it('reads Telegram in-body parameters.retry_after, parsed or raw JSON text', () => {
    const body = { ok: false, error_code: 429, description: 'Too Many Requests: retry after 5', parameters: { retry_after: 5 } };
    assert.equal(parseRetryAfter({}, body, NOW), 5_000);
    assert.equal(parseRetryAfter({}, JSON.stringify(body), NOW), 5_000);
    assert.equal(parseRetryAfter({}, { retry_after: 1.5 }, NOW), 1_500);
  });

  it('consults caller-named vendor headers before the defaults', () => {
    const headers = { 'x-rate-limit-wait': '12', 'x-ratelimit-retryafter': epochSeconds(NOW + 99_000) };
    assert.equal(parseRetryAfter(headers, undefined, NOW, { extraHeaders: ['X-Rate-Limit-Wait'] }), 12_000);
    assert.equal(parseRetryAfter(headers, undefined, NOW), 99_000);
  });

  it('reads epoch milliseconds as such', () => {
    assert.equal(parseRetryAfter({ 'x-ratelimit-retryafter': String(NOW + 3_000) }, undefined, NOW), 3_000);
  });

  it('returns undefined when nothing is a hint', () => {
    assert.equal(parseRetryAfter({}, undefined, NOW), undefined);
    assert.equal(parseRetryAfter(undefined, { error: { code: 'QuotaExceededError' } }, NOW), undefined);
    assert.equal(parseRetryAfter({ 'retry-after': 'soon' }, 'not json', NOW), undefined);
    assert.equal(parseRetryAfter({ 'retry-after': '-3' }, undefined, NOW), undefined);
  });

  it('skips an unparsable Retry-After and falls through to the next source', () => {
    assert.equal(parseRetryAfter({ 'retry-after': 'later' }, { parameters: { retry_after: 3 } }, NOW), 3_000);
  });

  it('joins array header values and still reads them', () => {
    assert.equal(parseHintValue('45', NOW), 45_000);
    assert.equal(parseRetryAfter({ 'retry-after': ['8'] }, undefined, NOW), 8_000);
  });
});
