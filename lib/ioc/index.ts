/**
 * IOC extraction: refanging, free-text and alert extraction, IP classification, allowlists,
 * and the quality measurement used by tests, scripts/ioc-quality.js and bench/extract.js.
 */
export type { Ioc, IocType, IocRole, ExtractTextOptions } from './types';
export { IOC_TYPES } from './types';
export { refang, refangWithMarks } from './refang';
export { extractFromText, clearExtractionCaches } from './extract';
export { extractFromAlert, DEFAULT_TEXT_FIELDS } from './alert';
export type { AlertLike, ExtractAlertOptions } from './alert';
export { Allowlist } from './allowlist';
export type { AllowlistSpec } from './allowlist';
export { classifyIp } from './classify';
export type { IpClass } from './classify';
