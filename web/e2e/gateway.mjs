// Starts a real gateway (the debug binary cargo built) on a fresh SQLite file and an ephemeral
// port, and a headless Debian Chromium driven by playwright-core. No browser is downloaded.
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';

const root = resolve(import.meta.dirname, '..', '..');
export const artifacts = join(root, 'test-artifacts');

/** `args`: more `serve` flags, e.g. `['--dns-server', '127.0.0.1:5353']`. */
export async function startGateway({ args = [] } = {}) {
  const bin = process.env.SCIM_GATEWAY_BIN ?? join(root, 'target', 'debug', 'scim-gateway');
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run cargo build first`);
  const dir = mkdtempSync(join(tmpdir(), 'scimgw-e2e-'));
  const databaseUrl = `sqlite://${dir}/e2e.db?mode=rwc`;
  const child = spawn(bin, ['serve', '--bind', '127.0.0.1:0', '--web-dir', join(root, 'web', 'dist'), ...args], {
    env: { ...process.env, DATABASE_URL: databaseUrl, SCIM_GATEWAY_LOG: 'warn' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout });
  let token = null;
  const url = await new Promise((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error('the gateway did not start within 30 s')), 30_000);
    child.on('exit', (code) => reject(new Error(`the gateway exited with ${code}`)));
    lines.on('line', (line) => {
      const link = line.match(/#token=(\S+)/);
      if (link) token = link[1];
      const listening = line.match(/listening on (http:\/\/\S+)/);
      if (listening) {
        clearTimeout(timer);
        resolveUrl(listening[1]);
      }
    });
  });
  if (!token) throw new Error('no sign-in link printed on first start');
  // `cli(...args)`: the same binary's subcommands on the same database (e.g. `admin-token`);
  // resolves to its stdout, rejects with its stderr.
  const cli = (...args) =>
    new Promise((resolveOut, reject) =>
      execFile(bin, args, { env: { ...process.env, DATABASE_URL: databaseUrl, SCIM_GATEWAY_LOG: 'warn' } }, (error, stdout, stderr) =>
        error ? reject(new Error(`${args.join(' ')}: ${stderr}`)) : resolveOut(stdout),
      ),
    );
  return { url, token, cli, stop: () => child.kill('SIGTERM') };
}

export async function launchBrowser() {
  mkdirSync(artifacts, { recursive: true });
  const profile = mkdtempSync(join(tmpdir(), 'scimgw-chromium-'));
  return chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1280, height: 800 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/// Fails every request that leaves the gateway's origin, and remembers it.
export async function onlyOrigin(context, origin) {
  const foreign = [];
  await context.route('**/*', (route) => {
    const u = route.request().url();
    if (u.startsWith(origin) || u.startsWith('data:') || u.startsWith('blob:')) return route.continue();
    foreign.push(u);
    return route.abort();
  });
  return foreign;
}
