import { readFileSync } from 'node:fs';
import {
  CONFIGURATION_MD,
  configurationMarkdown,
  DEFAULT_JSON,
  defaultJson,
  environmentVariables,
  optionDocs,
} from '../../scripts/config-docs.js';

// The configuration's defaults and descriptions live in src/config/schema.ts only; the two files
// that repeat them are written from it by `npm run docs:config`.
describe('what repeats the configuration schema', () => {
  it('config/default.json is every default of the schema (run `npm run docs:config` after changing it)', () => {
    expect(readFileSync(DEFAULT_JSON, 'utf8')).toBe(defaultJson());
  });

  it('docs/configuration.md lists every option as the schema defines and describes it', () => {
    expect(readFileSync(CONFIGURATION_MD, 'utf8')).toBe(configurationMarkdown());
  });

  it('finds a description for every option, and an option for every environment variable', () => {
    const options = optionDocs();
    expect(options.map((o) => o.path)).toEqual(expect.arrayContaining(['port', 'rateLimits.token.perIp.max']));
    const undocumentedSections = options.filter((o) => !o.doc && !o.path.includes('.'));
    expect(undocumentedSections).toEqual([]);
    const paths = new Set(options.map((o) => o.path));
    expect([...environmentVariables().keys()].filter((path) => !paths.has(path))).toEqual([]);
  });
});
