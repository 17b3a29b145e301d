// Ten sandboxes through the unmodified E2B SDK at once: created together,
// a command in each, each sandbox's output its own, all killed, and none
// left afterwards (test_sdk.py also checks that the world's `krunbox ps -a`
// is empty). E2B_MANY sets how many.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Sandbox } from 'e2b';

const template = process.env.E2B_TEMPLATE || 'busybox';
const count = Number(process.env.E2B_MANY || 10);
const suite = `e2b-many-${process.pid}`;

async function listed() {
  return (await Sandbox.list({ query: { metadata: { suite } } }).nextItems()).map((s) => s.sandboxId).sort();
}

test(`${count} sandboxes at once: create, run, kill`, async () => {
  const started = Date.now();
  const made = await Promise.allSettled(
    Array.from({ length: count }, (_, i) =>
      Sandbox.create(template, { timeoutMs: 600_000, metadata: { suite, n: String(i) }, envs: { N: String(i) } })),
  );
  const boxes = made.filter((m) => m.status === 'fulfilled').map((m) => m.value);
  try {
    const failed = made.filter((m) => m.status === 'rejected').map((m) => String(m.reason));
    assert.deepEqual(failed, [], 'every create succeeds');
    console.log(`# ${count} creates at once: ${Date.now() - started} ms`);
    const ids = boxes.map((b) => b.sandboxId);
    assert.equal(new Set(ids).size, count, 'each sandbox has its own id');
    assert.deepEqual(await listed(), [...ids].sort());

    // Each writes a file of its own and reads it back with its own env:
    // a command that reached another sandbox would show another number.
    const ran = Date.now();
    const results = await Promise.all(
      boxes.map((b, i) => b.commands.run(`echo box-${i} > /tmp/mine; echo $N; cat /tmp/mine; ls /tmp`)),
    );
    console.log(`# ${count} commands at once: ${Date.now() - ran} ms`);
    results.forEach((r, i) => {
      assert.equal(r.exitCode, 0);
      assert.equal(r.stdout, `${i}\nbox-${i}\nmine\n`, `sandbox ${i}`);
    });
  } finally {
    const killed = await Promise.allSettled(boxes.map((b) => b.kill()));
    assert.deepEqual(killed.filter((k) => k.status === 'rejected').map((k) => String(k.reason)), []);
  }
  for (const b of boxes) assert.equal(await b.isRunning(), false, `${b.sandboxId} is gone`);
  assert.deepEqual(await listed(), []);
  console.log(`# ${count} sandboxes, created to killed: ${Date.now() - started} ms`);
});
