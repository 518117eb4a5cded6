// Drives npm @sentry/node (exact version in package.json) against kansoku.
// env: SENTRY_DSN (required), MODE:
//   basic  (default) session + exception + message (+ a check-in and a log line), then flush
//   quota  20 exceptions, flushing after each (so the 429 of the 6th is seen before the 7th),
//          then close: the SDK reports what it dropped in a client_report.
// Prints one JSON line per captured event: {"kind":..., "id":...}.
import * as Sentry from "@sentry/node";

const mode = process.env.MODE || "basic";
Sentry.init({
  dsn: process.env.SENTRY_DSN,
  release: "kansoku-e2e@2.0.0",
  environment: "test",
  tracesSampleRate: mode === "basic" ? 1 : 0,
  enableLogs: true,
  sendClientReports: true,
  autoSessionTracking: true,
});
Sentry.setTag("component", "checkout");
Sentry.setUser({ id: "u-7" });
Sentry.addBreadcrumb({ category: "db", message: "SELECT * FROM orders WHERE id=42", level: "info" });

function charge(orderId) {
  throw new TypeError(`card declined for order ${orderId}`);
}

if (mode === "quota") {
  for (let i = 0; i < 20; i++) {
    try { charge(1000 + i); } catch (e) {
      console.log(JSON.stringify({ kind: "exception", id: Sentry.captureException(e) }));
    }
    await Sentry.flush(3000);
  }
} else {
  Sentry.startSession();
  Sentry.captureSession();
  try { charge(42); } catch (e) {
    console.log(JSON.stringify({ kind: "exception", id: Sentry.captureException(e) }));
  }
  console.log(JSON.stringify({ kind: "message", id: Sentry.captureMessage("disk almost full on 10.0.0.7", "warning") }));
  const checkInId = Sentry.captureCheckIn({ monitorSlug: "nightly-backup", status: "in_progress" });
  Sentry.captureCheckIn({ checkInId, monitorSlug: "nightly-backup", status: "error" });
  await Sentry.startSpan({ name: "GET /checkout", op: "http.server" }, async () => {
    await new Promise((r) => setTimeout(r, 20));
  });
  if (Sentry.logger) Sentry.logger.error("payment failed for order 42", { order: 42 });
  Sentry.endSession();
  await Sentry.flush(5000);
}
await Sentry.close(5000);
