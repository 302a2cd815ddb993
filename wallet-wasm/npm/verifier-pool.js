// The verifier workers behind `TrustedValidatorSet.verifyQuorumCert`: the wasm splits a
// large certificate's signatures into batches, keeps one for its own thread and hands
// the rest to the pool's `verify(batches)`, which posts batch i to worker i % count and
// resolves to whether every batch verified. A worker that fails rejects the call (the wasm then
// verifies those batches itself) and the pool stops using workers, so a platform that
// cannot run them costs one failed attempt, never a wrong answer.
//
// `spawn()` starts one worker on the entry's compiled module and returns
// `{ post(message, transfer), listen(onMessage, onError), hold(busy), stop() }`; `hold`
// keeps a Node process alive only while a worker has work, `stop` ends the worker.

/** At most this many verifier workers beside the caller's thread (the wasm's `WORKERS_MAX`). */
export const WORKERS_MAX = 7;

/**
 * A worker that has not answered a batch this long is taken for stuck: the call rejects
 * (the wasm verifies that share itself) and the pool stops using workers. A batch of
 * 100 signatures takes milliseconds; a worker's start, tens of them.
 */
export const ANSWER_TIMEOUT_MS = 10_000;

export function verifierPool(spawn, count, answerTimeoutMs = ANSWER_TIMEOUT_MS) {
  let workers;
  let broken = false;
  let nextId = 0;
  const pending = new Map();

  const start = () => {
    workers = Array.from({ length: count }, () => {
      const worker = { busy: 0, port: spawn() };
      worker.port.listen(
        ({ id, ok }) => {
          const job = pending.get(id);
          if (!job) return;
          pending.delete(id);
          if (--worker.busy === 0) worker.port.hold(false);
          job.resolve(ok === true);
        },
        (error) => fail(error),
      );
      return worker;
    });
  };

  const fail = (error) => {
    if (broken) return;
    broken = true;
    for (const job of pending.values()) job.reject(error);
    pending.clear();
    for (const worker of workers ?? []) {
      worker.busy = 0;
      worker.port.hold(false);
      worker.port.stop();
    }
  };

  const run = (worker, batch) =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      const timer = setTimeout(() => fail(new Error('a verifier worker did not answer')), answerTimeoutMs);
      // A pending timer must not keep a Node process alive by itself.
      timer.unref?.();
      const settle = (f) => (value) => {
        clearTimeout(timer);
        f(value);
      };
      pending.set(id, { resolve: settle(resolve), reject: settle(reject) });
      if (worker.busy++ === 0) worker.port.hold(true);
      worker.port.post({ id, batch }, [batch.buffer]);
    });

  const verify = (batches) => {
    if (broken) return Promise.reject(new Error('verifier workers unavailable'));
    try {
      if (!workers) start();
      return Promise.all(batches.map((batch, i) => run(workers[i % count], batch))).then((all) =>
        all.every(Boolean),
      );
    } catch (error) {
      fail(error);
      return Promise.reject(error);
    }
  };
  return { verify, count, running: () => (broken || !workers ? 0 : workers.length) };
}

/**
 * A verifier worker's message handler: the first message carries the compiled module,
 * each next one a batch `{ id, batch }`, answered `{ id, ok }` through `reply`.
 */
export function verifierWorker(initSync, verifyVoteBatch, reply) {
  let ready = false;
  return (message) => {
    if (!ready) {
      initSync({ module: message.module });
      ready = true;
      return;
    }
    reply({ id: message.id, ok: verifyVoteBatch(message.batch) });
  };
}
