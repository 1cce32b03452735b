import { describe, expect, it } from 'vitest';
import { GlobSet, globToRegExp } from '../../src/syntax/glob';
import { isSecretPath } from '../../src/syntax/secrets';
import { applyContentChange, ContentChangeError, offsetAt, pointAt } from '../../src/syntax/text-edit';

describe('isSecretPath', () => {
  it.each([
    '.env',
    '.env.local',
    '.env.example',
    'config/.env.production',
    '.envrc',
    'server.pem',
    'deploy/tls.key',
    'id_rsa',
    'id_rsa.pub',
    'home/.ssh/config',
    'cert.p12',
    'cert.PFX',
    'credentials.json',
    'gcloud/application_default_credentials.json',
    '.aws/credentials',
    '.git-credentials',
    'secrets.yaml',
    'secrets.py',
    'config/app.secrets',
    'prod-secret.json',
    '.npmrc',
    '.netrc',
    '.pypirc',
    'client_secret_123.apps.googleusercontent.com.json',
    'terraform.tfstate',
    'prod.tfvars',
  ])('%s is secret', (p) => expect(isSecretPath(p)).toBe(true));

  it.each([
    'src/env.ts',
    'environment.md',
    'src/auth/credentials.ts',
    'SecretStore.java',
    'keys.ts',
    'monkey.py',
    'README.md',
    'src/secretary.ts',
  ])('%s is not secret', (p) => expect(isSecretPath(p)).toBe(false));
});

describe('globs', () => {
  const m = (glob: string, p: string): boolean => globToRegExp(glob).test(p);

  it('follows VS Code semantics', () => {
    expect(m('**/node_modules', 'node_modules')).toBe(true);
    expect(m('**/node_modules', 'a/b/node_modules')).toBe(true);
    expect(m('**/*.log', 'x.log')).toBe(true);
    expect(m('**/*.log', 'a/x.log')).toBe(true);
    expect(m('*.log', 'a/x.log')).toBe(false); // anchored at the root
    expect(m('*.log', 'x.log')).toBe(true);
    expect(m('src/**/*.test.ts', 'src/a/b/c.test.ts')).toBe(true);
    expect(m('src/**/*.test.ts', 'src/c.test.ts')).toBe(true);
    expect(m('**/*.{js,ts}', 'a/b.ts')).toBe(true);
    expect(m('**/*.{js,ts}', 'a/b.tsx')).toBe(false);
    expect(m('file?.txt', 'file1.txt')).toBe(true);
    expect(m('file[0-9].txt', 'file7.txt')).toBe(true);
    expect(m('file[!0-9].txt', 'file7.txt')).toBe(false);
    expect(m('./build/', 'build')).toBe(true);
    expect(m('a.b', 'axb')).toBe(false); // dots are literal
  });

  it('excludes a folder matched by `dir/**` as the walk enters it', () => {
    const set = new GlobSet([['out/**']]);
    expect(set.match('out', true)).not.toBeNull();
    expect(set.match('out', false)).toBeNull();
    expect(set.match('out/x.js', false)).not.toBeNull();
  });
});

describe('text edits', () => {
  it('converts between offsets and points in UTF-16 units', () => {
    const text = 'a😀b\r\nsecond\nthird';
    expect(pointAt(text, 3)).toEqual({ row: 0, column: 3 });
    expect(pointAt(text, text.indexOf('second'))).toEqual({ row: 1, column: 0 });
    expect(offsetAt(text, { line: 0, character: 99 })).toBe(4); // clamped before '\r\n'
    expect(offsetAt(text, { line: 2, character: 2 })).toBe(text.indexOf('third') + 2);
    expect(() => offsetAt(text, { line: 9, character: 0 })).toThrow(ContentChangeError);
  });

  it('describes a multi-line insertion for Tree.edit', () => {
    const text = 'abc\ndef\n';
    const { text: next, edit } = applyContentChange(text, {
      range: { start: { line: 1, character: 1 }, end: { line: 1, character: 2 } },
      rangeOffset: 5,
      rangeLength: 1,
      text: 'X\nYZ😀',
    });
    expect(next).toBe('abc\ndX\nYZ😀f\n');
    expect(edit).toEqual({
      startIndex: 5,
      oldEndIndex: 6,
      newEndIndex: 11,
      startPosition: { row: 1, column: 1 },
      oldEndPosition: { row: 1, column: 2 },
      newEndPosition: { row: 2, column: 4 },
    });
  });

  it('rejects out-of-range and inconsistent changes', () => {
    const range = { start: { line: 0, character: 0 }, end: { line: 0, character: 1 } };
    expect(() => applyContentChange('ab', { range, rangeOffset: 1, rangeLength: 5, text: '' })).toThrow(
      /outside the document/,
    );
    expect(() => applyContentChange('ab', { range, rangeOffset: 1, rangeLength: 1, text: '' })).toThrow(
      /does not match/,
    );
  });
});
