#include "daemon/logging.hpp"

#include <cstdio>
#include <cstdlib>
#include <memory>

#include <nlohmann/json.hpp>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

namespace almanac {

namespace {

// %* → the sd-daemon(3) priority prefix journald reads: "<6>" for info.
class SyslogPriority final : public spdlog::custom_flag_formatter {
public:
    void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
        static constexpr const char* prefixes[] = {"<7>", "<7>", "<6>", "<4>", "<3>", "<2>", "<6>"};
        const auto level = static_cast<std::size_t>(msg.level);
        const char* p = prefixes[level < std::size(prefixes) ? level : 6];
        dest.append(p, p + 3);
    }
    std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<SyslogPriority>(); }
};

// %J → the message as a JSON string (quoted and escaped), for one JSON object per line.
class JsonMessage final : public spdlog::custom_flag_formatter {
public:
    void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
        const std::string quoted = nlohmann::json(std::string(msg.payload.data(), msg.payload.size()))
                                       .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        dest.append(quoted.data(), quoted.data() + quoted.size());
    }
    std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<JsonMessage>(); }
};

// systemd.exec(5): JOURNAL_STREAM holds "device:inode" of the journal stream; standard error is the
// journal only when it is that very file (a child started from a service's shell inherits the variable).
bool stderr_is_journal() {
    const char* value = std::getenv("JOURNAL_STREAM");
    if (!value) return false;
    unsigned long long device = 0, inode = 0;
    if (std::sscanf(value, "%llu:%llu", &device, &inode) != 2) return false;
    struct stat st {};
    if (fstat(STDERR_FILENO, &st) != 0) return false;
    return static_cast<unsigned long long>(st.st_dev) == device && static_cast<unsigned long long>(st.st_ino) == inode;
}

}  // namespace

void configure_logging(const LogConfig& config) {
    auto logger = spdlog::default_logger();
    if (!logger || logger->name() != "almanac") {
        logger = std::make_shared<spdlog::logger>("almanac", std::make_shared<spdlog::sinks::stderr_sink_mt>());
        spdlog::set_default_logger(logger);
    }
    std::string format = config.format;
    if (format == "text" && stderr_is_journal()) format = "journal";
    auto formatter = std::make_unique<spdlog::pattern_formatter>();
    if (format == "journal") {
        formatter->add_flag<SyslogPriority>('*').set_pattern("%*%v");
    } else if (format == "json") {
        formatter->add_flag<JsonMessage>('J').set_pattern(
            "{\"time\":\"%Y-%m-%dT%H:%M:%S.%e%z\",\"level\":\"%l\",\"message\":%J}");
    } else {
        formatter->set_pattern("%Y-%m-%d %H:%M:%S.%e %l: %v");
    }
    logger->set_formatter(std::move(formatter));
    logger->set_level(spdlog::level::from_str(config.level));
    logger->flush_on(spdlog::level::trace);
}

}  // namespace almanac
