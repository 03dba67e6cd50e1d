/**
 * Node modules with real message catalogs: test-helper's RED._ returns the key as it is, so tests
 * that read a status or log text (plurals, substitutions) wrap the module with withCatalogs(). It
 * uses the i18next instance Node-RED itself uses, configured as Node-RED configures it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { root } from './nr';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const i18next = require(require.resolve('i18next', { paths: [path.dirname(require.resolve('@node-red/util/package.json'))] }));

let translate: ((key: string, subs?: Record<string, unknown>) => string) | undefined;

/** RED._ over every catalog in locales/en-US (their top-level keys are the node types). */
export function catalogTranslate(): (key: string, subs?: Record<string, unknown>) => string {
  if (translate) return translate;
  const dirName = path.join(root, 'locales', 'en-US');
  const catalog: Record<string, unknown> = {};
  for (const file of fs.readdirSync(dirName).filter((f) => f.endsWith('.json')))
    Object.assign(catalog, JSON.parse(fs.readFileSync(path.join(dirName, file), 'utf8')));
  const instance = i18next.createInstance();
  instance.init({
    lng: 'en-US',
    fallbackLng: 'en-US',
    initImmediate: false,
    resources: { 'en-US': { soar: catalog } },
    ns: ['soar'],
    defaultNS: 'soar',
    keySeparator: '.',
    nsSeparator: ':',
    interpolation: { unescapeSuffix: 'HTML', escapeValue: false, prefix: '__', suffix: '__' },
    showSupportNotice: false,
  });
  translate = (key, subs) => instance.t(key, subs);
  return translate;
}

/** The module, given a RED whose _ translates with the catalogs (RED is shared by a load's modules). */
export function withCatalogs(mod: (RED: unknown) => void): (RED: unknown) => void {
  return (RED: unknown) => {
    (RED as { _: unknown })._ = catalogTranslate();
    return mod(RED);
  };
}
