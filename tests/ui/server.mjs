// Starts the real `kansoku server` on 127.0.0.1 port 0 in a temporary data directory and
// reads the bound address from its "kansoku server started" log line.
import { spawn } from "node:child_process";

export async function startServer({ bin, dataDir, webDir, token, config, timeoutMs = 20000 }) {
  const args = ["server", "--data", dataDir, "--listen", "127.0.0.1:0", "--web-dir", webDir, "--log-level", "info"];
  if (config) args.push("--config", config);
  const child = spawn(bin, args, {
    env: { ...process.env, KANSOKU_ADMIN_TOKEN: token },
    stdio: ["ignore", "pipe", "pipe"],
  });
  // Whatever happens to the test process, the server goes with it.
  const killOnExit = () => { try { child.kill("SIGKILL"); } catch { /* already gone */ } };
  process.on("exit", killOnExit);
  let log = "";
  const onData = (b) => { log += b.toString(); };
  child.stdout.on("data", onData);
  child.stderr.on("data", onData);
  const address = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start in ${timeoutMs} ms; log:\n${log}`)), timeoutMs);
    const poll = setInterval(() => {
      const m = /msg="kansoku server started".*?listen=([0-9.]+:\d+)/.exec(log);
      if (m) { clearInterval(poll); clearTimeout(timer); resolve(m[1]); }
    }, 50);
    child.on("exit", (code, sig) => {
      clearInterval(poll); clearTimeout(timer);
      reject(new Error(`server exited (${code ?? sig}) before it started; log:\n${log}`));
    });
  });
  // A failing UI test shows what the server said: "connection reset" in a browser test is
  // often a server crash, whose cause is only in this log.
  const tail = () => log.split("\n").slice(-40).join("\n");
  let stopping = false;
  child.on("exit", (code, sig) => {
    if (!stopping) console.error(`kansoku server died unexpectedly (${code ?? sig}); last log lines:\n${tail()}`);
  });
  process.on("exit", (code) => {
    if (code !== 0 && !stopping) console.error(`test failed (exit ${code}); kansoku server's last log lines:\n${tail()}`);
  });
  return {
    url: `http://${address}`,
    log: () => log,
    async stop() {
      stopping = true;
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      const done = new Promise((r) => child.once("exit", (code) => r(code)));
      child.kill("SIGTERM");
      const t = setTimeout(() => child.kill("SIGKILL"), 8000);
      const code = await done;
      clearTimeout(t);
      return code;
    },
  };
}
