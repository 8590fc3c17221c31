// Exposes almanac's time-zone code to tz_sweep_test.py, which compares it with the tz database.
//   tz_probe vtimezones FROM TO  < zone names      → one VCALENDAR with each zone's VTIMEZONE for [FROM, TO]
//   tz_probe to-utc               < "ZONE WALLTIME" → the UTC instant of each wall time (Unix seconds)
// A zone almanac rejects is printed as "error ZONE: message".
#include <cstdlib>
#include <iostream>
#include <string>

#include "feeds/event_time.hpp"
#include "feeds/vtimezone.hpp"

namespace {

using namespace almanac;

int vtimezones(const std::string& from, const std::string& to) {
    const auto first = parse_event_time(from);
    const auto last = parse_event_time(to);
    if (!first || !last || !std::holds_alternative<Instant>(*first) || !std::holds_alternative<Instant>(*last)) {
        std::cerr << "FROM and TO must be UTC date-times (…Z)\n";
        return 2;
    }
    std::cout << "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//almanac//tz_probe//EN\r\n";
    for (std::string name; std::getline(std::cin, name);) {
        const auto zone = find_zone(name);
        if (!zone) {
            std::cerr << "error " << name << ": " << zone.error() << "\n";
            continue;
        }
        const auto component = vtimezone_component(make_vtimezone(*zone, std::get<Instant>(*first), std::get<Instant>(*last)));
        char* text = icalcomponent_as_ical_string_r(component.get());
        std::cout << text;
        std::free(text);
    }
    std::cout << "END:VCALENDAR\r\n";
    return 0;
}

int to_utc() {
    std::string name, wall;
    while (std::cin >> name >> wall) {
        const auto zone = find_zone(name);
        const auto t = parse_event_time(wall);
        if (!zone || !t || !std::holds_alternative<WallTime>(*t)) {
            std::cout << "error " << name << " " << wall << "\n";
            continue;
        }
        std::cout << to_instant(std::get<WallTime>(*t), *zone).time_since_epoch().count() << "\n";
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const std::string mode = argc > 1 ? argv[1] : "";
    if (mode == "vtimezones" && argc == 4) return vtimezones(argv[2], argv[3]);
    if (mode == "to-utc" && argc == 2) return to_utc();
    std::cerr << "usage: tz_probe vtimezones FROM TO < zones | tz_probe to-utc < 'ZONE WALLTIME' lines\n";
    return 2;
}
