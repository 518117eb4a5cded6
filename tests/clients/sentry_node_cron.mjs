// Drives npm @sentry/node's crons API against kansoku: check-ins of three monitors, then exits
// (so the next expected check-ins never come).
// env: SENTRY_DSN (required).
//   e2e-fast    in_progress + ok, no monitor_config (the server config defines its schedule)
//   e2e-sdk     in_progress + ok with the SDK's monitor_config: crontab "* * * * *", margin 0
//   e2e-broken  in_progress + error (a failed run)
//   e2e-stuck   in_progress only (the server config gives it a short max_runtime)
// Prints one JSON line per check-in: {"slug":..., "id":...}.
import * as Sentry from "@sentry/node";

Sentry.init({ dsn: process.env.SENTRY_DSN, environment: "test", tracesSampleRate: 0 });

function run(slug, status, config) {
  const id = Sentry.captureCheckIn({ monitorSlug: slug, status: "in_progress" }, config);
  console.log(JSON.stringify({ slug, id }));
  if (status) Sentry.captureCheckIn({ checkInId: id, monitorSlug: slug, status, duration: 0.1 }, config);
}

run("e2e-fast", "ok");
run("e2e-sdk", "ok", {
  schedule: { type: "crontab", value: "* * * * *" },
  checkinMargin: 0,
  maxRuntime: 10,
  timezone: "Asia/Tokyo",
});
run("e2e-broken", "error");
run("e2e-stuck", null);
await Sentry.flush(5000);
await Sentry.close(5000);
