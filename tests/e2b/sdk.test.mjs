// The unmodified E2B SDK against `krunbox serve --e2b`: test_sdk.py starts
// the server in a private world and runs this with E2B_API_URL,
// E2B_SANDBOX_URL and E2B_API_KEY pointing at it (E2B_TEMPLATE names the
// image).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Sandbox, CommandExitError, AuthenticationError, NotFoundError } from 'e2b';

const template = process.env.E2B_TEMPLATE || 'busybox';
const sandboxUrl = process.env.E2B_SANDBOX_URL;
let sbx;

after(async () => {
  if (sbx) await sbx.kill().catch(() => {});
});

test('create a sandbox from the template', async () => {
  const started = Date.now();
  sbx = await Sandbox.create(template, { timeoutMs: 120_000, metadata: { suite: 'e2b-sdk' }, envs: { GREETING: 'hello' } });
  console.log(`# create: ${Date.now() - started} ms`);
  assert.match(sbx.sandboxId, /^[0-9a-f]{20}$/);
  assert.equal(await sbx.isRunning(), true);
});

test('commands.run: stdout and exit code', async () => {
  const started = Date.now();
  const r = await sbx.commands.run('echo hi');
  console.log(`# run echo: ${Date.now() - started} ms`);
  assert.equal(r.stdout, 'hi\n');
  assert.equal(r.stderr, '');
  assert.equal(r.exitCode, 0);
});

test('commands.run: env, cwd and stderr', async () => {
  const r = await sbx.commands.run('echo $GREETING $EXTRA; pwd; echo oops >&2', { envs: { EXTRA: 'there' }, cwd: '/tmp' });
  assert.equal(r.stdout, 'hello there\n/tmp\n');
  assert.equal(r.stderr, 'oops\n');
});

test('commands in parallel, and as a named user', async () => {
  const results = await Promise.all([1, 2, 3, 4, 5].map((i) => sbx.commands.run(`echo ${i}`)));
  assert.deepEqual(results.map((r) => r.stdout), ['1\n', '2\n', '3\n', '4\n', '5\n']);
  const r = await sbx.commands.run('id -u', { user: 'root' });
  assert.equal(r.stdout, '0\n');
});

test('a failing command raises CommandExitError with its code', async () => {
  await assert.rejects(sbx.commands.run('echo bad >&2; exit 3'), (err) => {
    assert.ok(err instanceof CommandExitError, `got ${err}`);
    assert.equal(err.exitCode, 3);
    assert.equal(err.stderr, 'bad\n');
    return true;
  });
});

test('onStdout sees output before the command ends', async () => {
  const seen = [];
  const started = Date.now();
  const r = await sbx.commands.run('echo one; sleep 2; echo two', {
    onStdout: (d) => seen.push([d, Date.now() - started]),
  });
  const ended = Date.now() - started;
  assert.equal(r.stdout, 'one\ntwo\n');
  assert.ok(seen.length >= 2, JSON.stringify(seen));
  assert.equal(seen[0][0], 'one\n');
  assert.ok(seen[0][1] < ended - 1000, `first output at ${seen[0][1]} ms, end at ${ended} ms`);
});

test('a background command: listed, then killed', async () => {
  const h = await sbx.commands.run('sleep 600', { background: true });
  assert.ok(h.pid > 0);
  const listed = await sbx.commands.list();
  assert.ok(listed.some((p) => p.pid === h.pid), JSON.stringify(listed));
  assert.equal(await h.kill(), true);
  await assert.rejects(h.wait(), (err) => err instanceof CommandExitError && err.exitCode !== 0);
  const after = await sbx.commands.list();
  assert.ok(!after.some((p) => p.pid === h.pid), JSON.stringify(after));
  assert.equal(await sbx.commands.kill(h.pid), false);
});

test('stdin: sendStdin and closeStdin', async () => {
  const h = await sbx.commands.run('cat', { background: true, stdin: true });
  await sbx.commands.sendStdin(h.pid, 'through stdin\n');
  await sbx.commands.closeStdin(h.pid);
  const r = await h.wait();
  assert.equal(r.stdout, 'through stdin\n');
});

test('commands.connect to a running command', async () => {
  const h = await sbx.commands.run('sleep 1; echo late', { background: true });
  const c = await sbx.commands.connect(h.pid);
  const r = await c.wait();
  assert.equal(r.stdout, 'late\n');
});

test('pty: a terminal shell, input, resize and exit', async () => {
  let out = '';
  const dec = new TextDecoder();
  const term = await sbx.pty.create({ cols: 100, rows: 30, onData: (d) => { out += dec.decode(d, { stream: true }); } });
  assert.ok(term.pid > 0);
  await sbx.pty.resize(term.pid, { cols: 120, rows: 40 });
  await sbx.pty.sendInput(term.pid, new TextEncoder().encode('stty size; echo pty-$((6*7))\nexit\n'));
  const r = await term.wait();
  assert.equal(r.exitCode, 0);
  assert.match(out, /pty-42/);
  assert.match(out, /40 120/);
});

test('files: write and read text', async () => {
  const info = await sbx.files.write('/tmp/e2b/hello.txt', 'hello, file\n');
  assert.equal(info.path, '/tmp/e2b/hello.txt');
  assert.equal(await sbx.files.read('/tmp/e2b/hello.txt'), 'hello, file\n');
  const r = await sbx.commands.run('cat /tmp/e2b/hello.txt');
  assert.equal(r.stdout, 'hello, file\n');
});

// Writes `size` random bytes through the SDK; sha256sum inside must agree.
async function writeChecked(path, size) {
  const data = randomBytes(size);
  const sha = createHash('sha256').update(data).digest('hex');
  const started = Date.now();
  await sbx.files.write(path, data);
  console.log(`# write ${size >> 20} MiB: ${Date.now() - started} ms`);
  const inside = await sbx.commands.run(`sha256sum ${path}`, { timeoutMs: 300_000 });
  assert.equal(inside.stdout.split(' ')[0], sha);
  return { data, sha };
}

test('files: 5 MiB of binary, byte for byte', async () => {
  const { data, sha } = await writeChecked('/tmp/big.bin', 5 << 20);
  const started = Date.now();
  const back = await sbx.files.read('/tmp/big.bin', { format: 'bytes' });
  console.log(`# read 5 MiB: ${Date.now() - started} ms`);
  assert.equal(back.length, data.length);
  assert.equal(createHash('sha256').update(back).digest('hex'), sha);
});

test('files: a 128 MiB upload streams through, byte for byte', async () => {
  await writeChecked('/tmp/large.bin', 128 << 20);
  await sbx.files.remove('/tmp/large.bin');
});

// A Connect client stream, as envd's StreamInput takes it (the SDK has no
// call that uses it): enveloped JSON messages in a request body that is
// still being sent while the command already reads them.
function envelope(message) {
  const json = new TextEncoder().encode(JSON.stringify(message));
  const out = new Uint8Array(5 + json.length);
  new DataView(out.buffer).setUint32(1, json.length);
  out.set(json, 5);
  return out;
}

function envelopes(bytes) {
  const out = [];
  for (let at = 0; at < bytes.length;) {
    const n = new DataView(bytes.buffer, bytes.byteOffset + at).getUint32(1);
    out.push({ flags: bytes[at], message: JSON.parse(new TextDecoder().decode(bytes.subarray(at + 5, at + 5 + n))) });
    at += 5 + n;
  }
  return out;
}

async function streamInput(messages, { waitBetween } = {}) {
  let controller;
  const body = new ReadableStream({ start(c) { controller = c; } });
  const response = fetch(`${sandboxUrl}/process.Process/StreamInput`, {
    method: 'POST', duplex: 'half', body,
    headers: { 'Content-Type': 'application/connect+json', 'E2b-Sandbox-Id': sbx.sandboxId, 'X-Access-Token': sbx.envdAccessToken },
  });
  for (const [i, m] of messages.entries()) {
    controller.enqueue(envelope(m));
    if (waitBetween && i < messages.length - 1) await waitBetween(i);
  }
  controller.close();
  const res = await response;
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^application\/connect\+json/);
  return envelopes(new Uint8Array(await res.arrayBuffer()));
}

async function until(check, what) {
  for (const end = Date.now() + 20_000; Date.now() < end; await new Promise((r) => setTimeout(r, 50)))
    if (check()) return;
  assert.fail(`timed out waiting for ${what}`);
}

test('StreamInput: a client stream feeds stdin as it arrives', async () => {
  let out = '';
  const h = await sbx.commands.run('cat', { background: true, stdin: true, onStdout: (d) => { out += d; } });
  const b64 = (text) => Buffer.from(text).toString('base64');
  const answer = await streamInput([
    { start: { process: { pid: h.pid } } },
    { data: { input: { stdin: b64('first\n') } } },
    { keepalive: {} },
    { data: { input: { stdin: b64('second\n') } } },
  ], {
    // The first line comes out of cat while the request is still open.
    waitBetween: async (i) => { if (i === 1) await until(() => out === 'first\n', 'the first line through cat'); },
  });
  assert.deepEqual(answer, [{ flags: 0, message: {} }, { flags: 2, message: {} }]);
  await sbx.commands.closeStdin(h.pid);
  const r = await h.wait();
  assert.equal(r.stdout, 'first\nsecond\n');
});

test('StreamInput: a bad first message or an unknown process is a Connect error', async () => {
  const noStart = await streamInput([{ data: { input: { stdin: 'eA==' } } }]);
  assert.equal(noStart.length, 1);
  assert.equal(noStart[0].flags, 2);
  assert.equal(noStart[0].message.error.code, 'invalid_argument');
  assert.match(noStart[0].message.error.message, /first message must be start/);
  const unknown = await streamInput([{ start: { process: { pid: 999999 } } }]);
  assert.equal(unknown[0].message.error.code, 'not_found');
  assert.match(unknown[0].message.error.message, /999999/);
});

test('files.watchDir: creates, writes and removes, looked for every 250 ms', async () => {
  await sbx.files.makeDir('/tmp/watched');
  const events = [];
  const handle = await sbx.files.watchDir('/tmp/watched', (e) => { events.push(`${e.type} ${e.name}`); });
  try {
    const waitFor = (line) => until(() => events.includes(line), line);
    await sbx.files.write('/tmp/watched/a.txt', 'one');
    await waitFor('create a.txt');
    await sbx.commands.run('echo more >> /tmp/watched/a.txt');
    await waitFor('write a.txt');
    await sbx.commands.run('chmod 600 /tmp/watched/a.txt');
    await waitFor('chmod a.txt');
    // Not recursive: what happens in a subdirectory is not reported.
    await sbx.files.write('/tmp/watched/sub/deep.txt', 'x');
    await waitFor('create sub');
    await sbx.files.remove('/tmp/watched/a.txt');
    await waitFor('remove a.txt');
    assert.ok(!events.some((e) => e.includes('deep.txt')), JSON.stringify(events));
  } finally {
    await handle.stop();
  }
  const recursive = [];
  const deep = await sbx.files.watchDir('/tmp/watched', (e) => { recursive.push(`${e.type} ${e.name}`); }, { recursive: true });
  try {
    await sbx.files.write('/tmp/watched/sub/deeper.txt', 'y');
    await until(() => recursive.includes('create sub/deeper.txt'), 'create sub/deeper.txt');
  } finally {
    await deep.stop();
  }
  await assert.rejects(sbx.files.watchDir('/tmp/watched/sub/deep.txt', () => {}), /not a directory/);
  await sbx.files.remove('/tmp/watched');
});

test('files: several at once, list, exists, makeDir, rename, remove', async () => {
  await sbx.files.write([
    { path: '/tmp/many/a.txt', data: 'a' },
    { path: '/tmp/many/sub/b.txt', data: 'bb' },
  ]);
  const entries = await sbx.files.list('/tmp/many');
  const names = entries.map((e) => e.name).sort();
  assert.deepEqual(names, ['a.txt', 'sub']);
  const a = entries.find((e) => e.name === 'a.txt');
  assert.equal(a.type, 'file');
  assert.equal(a.size, 1);
  assert.equal(a.path, '/tmp/many/a.txt');
  const deep = await sbx.files.list('/tmp/many', { depth: 2 });
  assert.ok(deep.some((e) => e.path === '/tmp/many/sub/b.txt'), JSON.stringify(deep));
  assert.equal(await sbx.files.exists('/tmp/many/a.txt'), true);
  assert.equal(await sbx.files.exists('/tmp/many/nope'), false);
  assert.equal(await sbx.files.makeDir('/tmp/many/newdir/x'), true);
  assert.equal(await sbx.files.makeDir('/tmp/many/newdir/x'), false);
  const moved = await sbx.files.rename('/tmp/many/a.txt', '/tmp/many/c.txt');
  assert.equal(moved.path, '/tmp/many/c.txt');
  const info = await sbx.files.getInfo('/tmp/many/c.txt');
  assert.equal(info.type, 'file');
  await sbx.files.remove('/tmp/many');
  assert.equal(await sbx.files.exists('/tmp/many'), false);
  await assert.rejects(sbx.files.read('/tmp/many/c.txt'), (err) => err instanceof NotFoundError || /not found/i.test(String(err)));
});

test('setTimeout, getInfo and list', async () => {
  await sbx.setTimeout(60_000);
  const info = await sbx.getInfo();
  assert.equal(info.sandboxId, sbx.sandboxId);
  assert.equal(info.templateId, template);
  assert.equal(info.metadata.suite, 'e2b-sdk');
  assert.equal(info.state, 'running');
  const left = info.endAt.getTime() - Date.now();
  assert.ok(left > 30_000 && left <= 62_000, `endAt is ${left} ms away`);
  const listed = await Sandbox.list({ query: { metadata: { suite: 'e2b-sdk' } } }).nextItems();
  assert.ok(listed.some((s) => s.sandboxId === sbx.sandboxId), JSON.stringify(listed));
  const none = await Sandbox.list({ query: { metadata: { suite: 'other' } } }).nextItems();
  assert.ok(!none.some((s) => s.sandboxId === sbx.sandboxId));
});

test('Sandbox.connect gives a working handle', async () => {
  const again = await Sandbox.connect(sbx.sandboxId);
  const r = await again.commands.run('echo again');
  assert.equal(r.stdout, 'again\n');
});

test('a wrong API key is refused (401)', async () => {
  const apiKey = 'e2b_' + 'f'.repeat(40);
  await assert.rejects(Sandbox.create(template, { apiKey }), (err) => err instanceof AuthenticationError);
  await assert.rejects(Sandbox.list({ apiKey }).nextItems(), (err) => err instanceof AuthenticationError);
});

test('a wrong access token is refused (401)', async () => {
  for (const token of [undefined, 'ea_' + '0'.repeat(64)]) {
    const headers = { 'Content-Type': 'application/json', 'E2b-Sandbox-Id': sbx.sandboxId };
    if (token) headers['X-Access-Token'] = token;
    const res = await fetch(`${sandboxUrl}/filesystem.Filesystem/Stat`, {
      method: 'POST', headers, body: JSON.stringify({ path: '/' }),
    });
    assert.equal(res.status, 401);
    const files = await fetch(`${sandboxUrl}/files?path=/etc/hostname`, { headers });
    assert.equal(files.status, 401);
  }
  // The SDK with the wrong token: an AuthenticationError.
  const wrong = new Sandbox({ sandboxId: sbx.sandboxId, envdAccessToken: 'ea_' + '1'.repeat(64), envdVersion: '0.5.7' });
  await assert.rejects(wrong.files.read('/etc/hostname'), (err) => err instanceof AuthenticationError);
  await assert.rejects(wrong.commands.run('echo no'), (err) => err instanceof AuthenticationError);
});

test('the timeout ends a sandbox', async () => {
  const short = await Sandbox.create(template, { timeoutMs: 2_000 });
  assert.equal(await short.isRunning(), true);
  await new Promise((resolve) => setTimeout(resolve, 5_000));
  assert.equal(await short.isRunning(), false);
  const listed = await Sandbox.list().nextItems();
  assert.ok(!listed.some((s) => s.sandboxId === short.sandboxId));
  await assert.rejects(short.commands.run('echo late'));
});

test('kill: the sandbox is gone', async () => {
  const id = sbx.sandboxId;
  await sbx.kill();
  assert.equal(await sbx.isRunning(), false);
  const listed = await Sandbox.list().nextItems();
  assert.ok(!listed.some((s) => s.sandboxId === id));
  await assert.rejects(Sandbox.getInfo(id), (err) => err instanceof NotFoundError || /not found/i.test(String(err)));
  assert.equal(await Sandbox.kill(id), false);
  sbx = undefined;
});
