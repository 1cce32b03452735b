/**
 * Files that never enter the cache: a completion model holding a key in its KV cache could write it out in a
 * suggestion or a chat answer. Matched on the repository-relative path, case-insensitively, before the file is
 * read. The list errs on the side of skipping (`.env.example` is skipped too: templates are often filled in),
 * except that source code merely named after credentials (`credentials.ts`, `SecretStore.java`) stays: the
 * extension refuses completions in secret files, and refusing them in the code that handles secrets would
 * only get in the way.
 */

/** Extensions of data and configuration files (and no extension at all). */
const DATA = String.raw`(\.(json|ya?ml|xml|ini|cfg|conf|config|txt|toml|properties|env|csv|plist|dat|bak))?$`;

/** Matched against the file name. */
const SECRET_NAMES: RegExp[] = [
  /^\.env($|[.\-_])/, // .env, .env.local, .env-prod
  /^\.envrc$/,
  /\.(pem|key|p12|pfx|jks|keystore|p8|ppk|kdbx|gpg|tfvars|tfstate)$/,
  /\.tfstate\.backup$/,
  /^id_(rsa|dsa|ecdsa|ed25519)/,
  /^secrets?\./, // secrets.yaml, secret.json, secrets.py
  new RegExp(String.raw`credentials?` + DATA), // credentials.json, aws `credentials`, .git-credentials
  new RegExp(String.raw`^secrets?` + DATA),
  new RegExp(String.raw`[.\-_]secrets?` + DATA), // app.secrets, prod-secret.json
  /^client_secret.*\.json$/,
  /^service[-_]?account.*\.json$/,
  /^\.(npmrc|yarnrc\.yml|netrc|pypirc|pgpass|htpasswd|dockercfg|my\.cnf|s3cfg|boto)$/,
  /^_netrc$/,
  /^kubeconfig$|\.kubeconfig$/,
  /^tokens?\.(json|txt)$/,
];

/** Any file under one of these directories. */
const SECRET_DIRS = new Set(['.ssh', '.gnupg', '.aws', '.azure', '.kube', '.docker']);

export function isSecretPath(relPath: string): boolean {
  const parts = relPath
    .toLowerCase()
    .replace(/\\/g, '/')
    .split('/')
    .filter((p) => p !== '');
  const name = parts.pop();
  if (!name) return false;
  if (parts.some((dir) => SECRET_DIRS.has(dir))) return true;
  return SECRET_NAMES.some((re) => re.test(name));
}
