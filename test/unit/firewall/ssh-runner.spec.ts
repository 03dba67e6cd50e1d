/**
 * The SSH command runner against an in-process SSH server (ssh2's Server on 127.0.0.1): quoting,
 * exit codes, stdin, sudo, host key pinning, connection reuse and reconnect, timeouts, and that the
 * private key never shows in an error. The real sshd is exercised in test/system/ssh-nftables.spec.ts.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { Server, utils, type ServerChannel } from 'ssh2';
import { ProviderError } from '../../../lib/core/errors';
import { NftablesFirewall } from '../../../lib/firewall/nftables';
import {
  createSshRunner,
  hostKeyFingerprint,
  parseHostKeyPin,
  remoteCommand,
  shellQuote,
  type SshRunner,
  type SshRunnerOptions,
} from '../../../lib/firewall/ssh-runner';

/** What the fake server does with one exec request. */
type ExecHandler = (command: string, stdin: string, channel: ServerChannel) => void;

interface FakeSshServer {
  port: number;
  hostKeySha256: string;
  connections: number;
  commands: string[];
  onExec: ExecHandler;
  /** Refuse the exec request (the channel opened, the command is not started) when this says so. */
  refuseExec: (command: string) => boolean;
  /** Drop every client connection (the gateway rebooted, a NAT forgot the flow). */
  dropAll(): void;
  close(): Promise<void>;
}

const CLIENT_KEY = utils.generateKeyPairSync('ed25519');
const HOST_KEY = utils.generateKeyPairSync('ed25519');

function publicBlob(privateKey: string): Buffer {
  const parsed = utils.parseKey(privateKey);
  if (parsed instanceof Error) throw parsed;
  return parsed.getPublicSSH();
}

/** Exit with a status after writing output (the usual shape of a finished command). */
function finish(channel: ServerChannel, code: number, stdout = '', stderr = ''): void {
  if (stdout) channel.write(stdout);
  if (stderr) channel.stderr.write(stderr);
  channel.exit(code);
  channel.end();
}

/** A server that accepts the one public key given (OpenSSH "ssh-ed25519 AAAA..." text). */
async function startFakeSshServer(authorizedPublicKey: string = CLIENT_KEY.public): Promise<FakeSshServer> {
  const authorized = utils.parseKey(authorizedPublicKey);
  if (authorized instanceof Error) throw authorized;
  const allowed = authorized.getPublicSSH();
  const sockets = new Set<{ end(): void }>();
  const state: FakeSshServer = {
    port: 0,
    hostKeySha256: hostKeyFingerprint(publicBlob(HOST_KEY.private)),
    connections: 0,
    commands: [],
    onExec: (_command, stdin, channel) => finish(channel, 0, stdin),
    refuseExec: () => false,
    dropAll: () => {
      for (const client of sockets) client.end();
    },
    close: async () => undefined,
  };
  const server = new Server({ hostKeys: [HOST_KEY.private] }, (client) => {
    state.connections++;
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => undefined);
    client.on('authentication', (ctx) => {
      if (ctx.method !== 'publickey' || !ctx.key.data.equals(allowed)) return ctx.reject(['publickey']);
      if (!ctx.signature) return ctx.accept(); // the "would this key do?" query before signing
      if (!ctx.blob || !authorized.verify(ctx.blob, ctx.signature, ctx.hashAlgo)) return ctx.reject(['publickey']);
      ctx.accept();
    });
    client.on('ready', () => {
      client.on('session', (acceptSession) => {
        const session = acceptSession();
        session.on('exec', (acceptExec, rejectExec, info) => {
          if (state.refuseExec(info.command)) {
            rejectExec();
            return;
          }
          const channel = acceptExec();
          state.commands.push(info.command);
          const input: Buffer[] = [];
          channel.on('data', (chunk: Buffer) => input.push(chunk));
          channel.once('end', () => state.onExec(info.command, Buffer.concat(input).toString('utf8'), channel));
        });
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  state.port = (server.address() as AddressInfo).port;
  state.close = () =>
    new Promise<void>((resolve) => {
      state.dropAll();
      server.close(() => resolve());
    });
  return state;
}

describe('ssh runner: shell quoting', () => {
  const awkward = [
    'plain',
    '',
    "it's",
    "''",
    'a b  c',
    '$(touch /tmp/soar-should-not-exist)',
    '`id`',
    '; rm -rf /',
    '"double" \\back\\slash',
    'new\nline',
    '*',
    '~root',
    '$HOME',
    '!event',
    'tab\there',
    'ünïcödé ✓',
  ];

  it('quotes every word in single quotes, escaping embedded quotes', () => {
    assert.equal(shellQuote('abc'), "'abc'");
    assert.equal(shellQuote("it's"), "'it'\\''s'");
    assert.equal(shellQuote(''), "''");
    assert.equal(remoteCommand(['nft', '-j', 'list', 'table', 'inet', 'soar']), "'nft' '-j' 'list' 'table' 'inet' 'soar'");
  });

  it('refuses NUL bytes, non-strings and empty commands', () => {
    assert.throws(() => shellQuote('a\0b'), /NUL/);
    assert.throws(() => shellQuote(42 as unknown as string), /strings/);
    assert.throws(() => remoteCommand([]), /empty command/);
  });

  // /bin/sh is always there; the others are checked when installed (Debian has both).
  for (const shell of ['/bin/sh', '/bin/bash', '/bin/dash'].filter((candidate) => existsSync(candidate))) {
    it(`a real ${shell} receives exactly the original words`, () => {
      // printf prints each argument NUL-terminated: the split must give back the input list unchanged.
      const output = execFileSync(shell, ['-c', remoteCommand(['printf', '%s\\0', ...awkward])], { encoding: 'utf8' });
      assert.deepEqual(output.split('\0').slice(0, -1), awkward);
      assert.equal(existsSync('/tmp/soar-should-not-exist'), false);
    });
  }
});

describe('ssh runner: host key fingerprints', () => {
  it('computes the fingerprint ssh-keygen -lf prints', () => {
    // Vector: a key made with ssh-keygen -t ed25519, and `ssh-keygen -lf` on its .pub file.
    const pub = 'AAAAC3NzaC1lZDI1NTE5AAAAIOgnhbAU+JDBKiJPrpJKWlrSfSdvm4YslrK+X2BmA5Kv';
    assert.equal(hostKeyFingerprint(Buffer.from(pub, 'base64')), 'SHA256:XUA3Q7yq1exJTWnX0FWb44shhGlpkNDnM28kTS/gn/o');
  });

  it('accepts a pin with or without base64 padding and refuses anything else', () => {
    const pin = 'SHA256:XUA3Q7yq1exJTWnX0FWb44shhGlpkNDnM28kTS/gn/o';
    assert.equal(parseHostKeyPin(pin), pin);
    assert.equal(parseHostKeyPin(`${pin}=`), pin);
    assert.equal(parseHostKeyPin(`  ${pin} `), pin);
    for (const bad of ['XUA3Q7yq1exJTWnX0FWb44shhGlpkNDnM28kTS/gn/o', 'MD5:aa:bb', 'SHA256:short', 'sha256:XUA3Q7yq1exJTWnX0FWb44shhGlpkNDnM28kTS/gn/o']) {
      assert.throws(
        () => parseHostKeyPin(bad),
        (error: unknown) => error instanceof ProviderError && error.code === 'BAD_REQUEST',
      );
    }
  });
});

describe('ssh runner against an in-process SSH server', function () {
  this.timeout(20_000);
  let server: FakeSshServer;
  const runners: SshRunner[] = [];

  function runnerFor(overrides: Partial<SshRunnerOptions> = {}): SshRunner {
    const runner = createSshRunner({ host: '127.0.0.1', port: server.port, username: 'soar', privateKey: CLIENT_KEY.private, ...overrides });
    runners.push(runner);
    return runner;
  }

  beforeEach(async () => {
    server = await startFakeSshServer();
  });

  afterEach(async () => {
    for (const runner of runners.splice(0)) await runner.close();
    await server.close();
  });

  it('runs nft with quoted arguments and returns stdout, stderr and the exit code', async () => {
    server.onExec = (command, _stdin, channel) => finish(channel, 3, `out:${command}`, 'Error: something\n');
    const runner = runnerFor();
    const result = await runner(['-j', 'list', 'table', 'inet', "so'ar"]);
    assert.equal(server.commands[0], "'nft' '-j' 'list' 'table' 'inet' 'so'\\''ar'");
    assert.deepEqual(result, { stdout: `out:${server.commands[0]}`, stderr: 'Error: something\n', code: 3 });
  });

  it('streams stdin to the command (a large nft script arrives whole)', async () => {
    const script = Array.from({ length: 20_000 }, (_, i) => `add element inet soar blocked4 { 198.18.${i >> 8}.${i & 255} }`).join('\n');
    const runner = runnerFor({ nftPath: '/usr/sbin/nft' });
    const result = await runner(['-f', '-'], script);
    assert.equal(server.commands[0], "'/usr/sbin/nft' '-f' '-'");
    assert.equal(result.code, 0);
    assert.equal(result.stdout.length, script.length);
    assert.equal(result.stdout, script);
  });

  it('reuses one connection for many commands, also in parallel', async () => {
    const runner = runnerFor();
    for (let i = 0; i < 3; i++) assert.equal((await runner(['-v'], `x${i}`)).stdout, `x${i}`);
    const parallel = await Promise.all([1, 2, 3, 4].map((i) => runner(['-v'], `p${i}`)));
    assert.deepEqual(
      parallel.map((r) => r.stdout),
      ['p1', 'p2', 'p3', 'p4'],
    );
    assert.equal(server.connections, 1);
  });

  it('opens a new connection after the old one dropped', async () => {
    const runner = runnerFor();
    assert.equal((await runner(['one'], 'a')).stdout, 'a');
    server.dropAll();
    assert.equal((await runner(['two'], 'b')).stdout, 'b');
    assert.equal(server.connections, 2);
    assert.equal(server.commands.length, 2, 'each command ran exactly once');
  });

  it('a refused exec on a live connection is reported without dropping the connection', async () => {
    server.refuseExec = (command) => command.includes('refuse-me');
    const runner = runnerFor();
    assert.equal((await runner(['-v'], 'before')).stdout, 'before');
    await assert.rejects(runner(['refuse-me']), /could not start the command/);
    assert.equal((await runner(['-v'], 'after')).stdout, 'after');
    assert.equal(server.connections, 1);
  });

  it('rejects when the connection drops while the command runs (no exit status: it may have run)', async () => {
    server.onExec = () => server.dropAll();
    const runner = runnerFor();
    await assert.rejects(runner(['-f', '-'], 'x'), /ended before the command reported an exit status/);
    // The next command works over a fresh connection.
    server.onExec = (_command, stdin, channel) => finish(channel, 0, stdin);
    assert.equal((await runner(['-v'], 'again')).stdout, 'again');
  });

  it("drops sshd's missing-home notice so nft's error mapping does not read it as a missing table", async () => {
    server.onExec = (_command, _stdin, channel) =>
      finish(channel, 1, '', 'Could not chdir to home directory /nonexistent: No such file or directory\nOperation not permitted (you must be root)\n');
    const runner = runnerFor();
    assert.equal((await runner(['-j', 'list', 'table', 'inet', 'soar'])).stderr, 'Operation not permitted (you must be root)\n');
    await assert.rejects(new NftablesFirewall({ runner }).list(), (error: unknown) => error instanceof ProviderError && error.code === 'FORBIDDEN');
  });

  it('reports a command killed by a signal as a failure naming the signal', async () => {
    server.onExec = (_command, _stdin, channel) => {
      channel.exit('KILL', false, 'killed');
      channel.end();
    };
    const result = await runnerFor()(['-f', '-']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /killed by SIGKILL/);
  });

  it('rejects a command without exit status within timeoutMs', async () => {
    server.onExec = () => undefined; // never answers
    const runner = runnerFor({ timeoutMs: 300 });
    await assert.rejects(runner(['-f', '-'], 'x'), /no exit status within 300 ms/);
  });

  it('without a pin: accepts the host key and shows its fingerprint for pinning', async () => {
    const runner = runnerFor();
    assert.equal(runner.hostKeySha256(), undefined);
    assert.equal(await runner.connect(), server.hostKeySha256);
    assert.equal(runner.hostKeySha256(), server.hostKeySha256);
  });

  it('with the right pin: connects', async () => {
    const runner = runnerFor({ hostKeySha256: server.hostKeySha256 });
    assert.equal((await runner(['-v'], 'pinned')).stdout, 'pinned');
  });

  it('with a wrong pin: refuses before authenticating and names both fingerprints', async () => {
    const wrong = hostKeyFingerprint(publicBlob(CLIENT_KEY.private));
    const runner = runnerFor({ hostKeySha256: wrong });
    await assert.rejects(runner(['-v']), (error: unknown) => {
      assert.ok(error instanceof Error);
      assert.match(error.message, /does not match the pinned/);
      assert.ok(error.message.includes(server.hostKeySha256) && error.message.includes(wrong));
      return true;
    });
    assert.equal(server.commands.length, 0);
  });

  it('fails clearly when the key is not authorized, and never shows the key', async () => {
    const stranger = utils.generateKeyPairSync('ed25519');
    const runner = runnerFor({ privateKey: stranger.private });
    await assert.rejects(runner(['-v']), (error: unknown) => {
      assert.ok(error instanceof Error);
      assert.match(error.message, /authentication failed/);
      const keyBody = stranger.private.split('\n')[1];
      assert.ok(!error.message.includes(keyBody) && !String(error.stack).includes(keyBody));
      return true;
    });
  });

  it('checks the key when created: garbage and a missing passphrase are refused at once', () => {
    assert.throws(
      () => createSshRunner({ host: '127.0.0.1', username: 'soar', privateKey: 'not a key' }),
      (error: unknown) => {
        assert.ok(error instanceof ProviderError && error.code === 'BAD_REQUEST');
        assert.ok(!error.message.includes('not a key'));
        return true;
      },
    );
    const encrypted = utils.generateKeyPairSync('ed25519', { passphrase: 'correct horse', cipher: 'aes256-ctr', rounds: 4 });
    assert.throws(() => createSshRunner({ host: '127.0.0.1', username: 'soar', privateKey: encrypted.private }), /passphrase/);
    assert.throws(() => createSshRunner({ host: '', username: 'soar', privateKey: CLIENT_KEY.private }), /host is required/);
    assert.throws(() => createSshRunner({ host: 'gw', port: 70000, username: 'soar', privateKey: CLIENT_KEY.private }), /invalid port/);
  });

  it('uses an encrypted key with its passphrase', async () => {
    const encrypted = utils.generateKeyPairSync('ed25519', { passphrase: 'correct horse', cipher: 'aes256-ctr', rounds: 4 });
    await server.close();
    server = await startFakeSshServer(encrypted.public);
    const runner = runnerFor({ privateKey: encrypted.private, passphrase: 'correct horse' });
    assert.equal((await runner(['-v'], 'unlocked')).stdout, 'unlocked');
  });

  it('with sudo: runs `sudo -n -- nft ...`, and a password prompt becomes a clear FORBIDDEN', async () => {
    server.onExec = (command, _stdin, channel) => finish(channel, 1, '', 'sudo: a password is required\n');
    const runner = runnerFor({ sudo: true, nftPath: '/usr/sbin/nft' });
    const result = await runner(['-j', 'list', 'ruleset']);
    assert.equal(server.commands[0], "'sudo' '-n' '--' '/usr/sbin/nft' '-j' 'list' 'ruleset'");
    assert.match(result.stderr, /^Error: Permission denied: sudo on 127\.0\.0\.1 wants a password for soar; add a NOPASSWD sudoers rule for \/usr\/sbin\/nft/);

    // Through the nftables provider, the failure reads as a refusal, not as a server fault.
    const fw = new NftablesFirewall({ runner });
    await assert.rejects(fw.ensureReady(), (error: unknown) => {
      assert.ok(error instanceof ProviderError);
      assert.equal(error.code, 'FORBIDDEN');
      assert.match(error.message, /NOPASSWD sudoers rule/);
      return true;
    });
  });

  it('exec() runs any program on the same connection, through sudo unless asUser', async () => {
    server.onExec = (command, stdin, channel) => finish(channel, 0, `ran:${stdin}`);
    const runner = runnerFor({ sudo: true, nftPath: '/usr/sbin/nft' });
    assert.deepEqual(await runner.exec(['sh', '-c', 'echo "$1"', 'x', "it's"], 'input'), { stdout: 'ran:input', stderr: '', code: 0 });
    await runner.exec(['sh', '-c', 'printf %s "$SSH_CONNECTION"'], undefined, { asUser: true });
    await runner(['list', 'tables']);
    assert.deepEqual(server.commands, [
      "'sudo' '-n' '--' 'sh' '-c' 'echo \"$1\"' 'x' 'it'\\''s'",
      "'sh' '-c' 'printf %s \"$SSH_CONNECTION\"'",
      "'sudo' '-n' '--' '/usr/sbin/nft' 'list' 'tables'",
    ]);
    assert.equal(server.connections, 1);
    await assert.rejects(runner.exec([]), /non-empty strings/);
  });
});
