#include "server/scrape_wiring.h"

#include <sys/stat.h>

#include "alert/source.h"
#include "api/ingest_api.h"
#include "api/targets_api.h"
#include "base/log.h"
#include "ingest/common/rows.h"
#include "scrape/config.h"
#include "server/alert_wiring.h"
#include "server/scrape_alert_source.h"

namespace kansoku::server {
namespace {

Status Parse(const config::ServerConfig& cfg, scrape::ScrapeDefaults* d,
             std::vector<scrape::ScrapeJobConfig>* jobs) {
  if (!cfg.scrape.present) return Status::Ok();
  return scrape::ParseServerScrapeConfig(cfg.scrape.yaml_text, cfg.scrape.file, d, jobs);
}

}  // namespace

Status CheckScrapeConfig(const config::ServerConfig& cfg) {
  scrape::ScrapeDefaults d;
  std::vector<scrape::ScrapeJobConfig> jobs;
  return Parse(cfg, &d, &jobs);
}

ScrapeService::ScrapeService(const config::ServerConfig& cfg)
    : cfg_(cfg), agent_targets_(std::make_unique<scrape::AgentTargetRegistry>()) {}

ScrapeService::~ScrapeService() { Stop(); }

Status ScrapeService::Open() {
  scrape::ScrapeDefaults d;
  std::vector<scrape::ScrapeJobConfig> jobs;
  KANSOKU_RETURN_IF_ERROR(Parse(cfg_, &d, &jobs));
  if (jobs.empty()) return Status::Ok();
  std::string dir = cfg_.data_dir + "/scrape";
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return Status::FromErrno("cannot create " + dir, errno);
  }
  scrape::ScraperOptions o;
  o.jobs = std::move(jobs);
  o.default_interval_ms = d.interval_ms;
  o.workers = d.workers;
  o.state_file = dir + "/targets.json";
  o.sink = [this](const std::string& job, std::vector<scrape::ScrapedSample>& samples) {
    std::shared_ptr<api::IngestApi> ingest = ingest_;
    if (!ingest) return std::string("server not ready");
    auto r = api::IngestInternal(
        *ingest, "scrape", "scrape:" + job, [&](ingest::RowSink& sink, int64_t now_ms) {
          ingest::RowBatch batch;
          batch.set_location_unit("sample");
          uint32_t i = 0;
          std::vector<ingest::LabelView> ex;
          for (const auto& s : samples) {
            batch.BeginSeries(++i);
            for (const auto& l : s.labels) batch.AddLabel(l.first, l.second);
            const int64_t t = s.timestamp_ms ? s.timestamp_ms : now_ms;
            batch.AddSample(t, s.value);
            if (s.exemplar) {
              ex.clear();
              for (const auto& l : s.exemplar->labels) ex.push_back({l.first, l.second});
              batch.AddExemplar(ex.data(), static_cast<uint32_t>(ex.size()), s.exemplar->value,
                                s.exemplar->timestamp_ms ? s.exemplar->timestamp_ms : t);
            }
          }
          sink.Consume(batch);
        });
    return r.summary.empty() ? std::string() : "storing samples: " + r.summary;
  };
  KANSOKU_ASSIGN_OR_RETURN(scraper_, scrape::Scraper::Create(std::move(o)));
  log::Info(
      "scrape jobs configured",
      {{"jobs", static_cast<unsigned long long>(scraper_->num_jobs())}, {"workers", d.workers}});
  return Status::Ok();
}

void ScrapeService::AddAlertSource(AlertingWiring* alerting) {
  alerting->AddSource(MakeTargetSetHeldSource(this, 15000));
}

void ScrapeService::RegisterRoutes(net::HttpServer& http) {
  api::RegisterTargetsApi(http, {scraper_.get(), agent_targets_.get()});
}

void ScrapeService::Start(std::shared_ptr<api::IngestApi> ingest) {
  ingest_ = std::move(ingest);
  if (scraper_) scraper_->Start();
}

void ScrapeService::Stop() {
  if (stopped_) return;
  stopped_ = true;
  if (scraper_) scraper_->Stop();
}

std::vector<scrape::TargetStatus> ScrapeService::Targets() const {
  return scraper_ ? scraper_->Targets() : std::vector<scrape::TargetStatus>{};
}

std::vector<scrape::JobStatus> ScrapeService::Jobs() const {
  return scraper_ ? scraper_->Jobs() : std::vector<scrape::JobStatus>{};
}

}  // namespace kansoku::server
