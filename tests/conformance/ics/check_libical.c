/* libical's own parser reads each .ics file given on the command line, reports X-LIC-ERROR
   properties (its parse errors), and expands every VEVENT with the file's VTIMEZONEs; prints
   {file: {"errors": n, "events": {uid: [starts]}}} as JSON.  Usage: check_libical BOUND_EPOCH FILE... */
#define _POSIX_C_SOURCE 200809L
#include <libical/ical.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static int count_errors(icalcomponent *c) {
    int n = 0;
    for (icalproperty *p = icalcomponent_get_first_property(c, ICAL_XLICERROR_PROPERTY); p;
         p = icalcomponent_get_next_property(c, ICAL_XLICERROR_PROPERTY)) {
        fprintf(stderr, "libical: %s\n", icalproperty_get_xlicerror(p));
        ++n;
    }
    for (icalcomponent *s = icalcomponent_get_first_component(c, ICAL_ANY_COMPONENT); s;
         s = icalcomponent_get_next_component(c, ICAL_ANY_COMPONENT))
        n += count_errors(s);
    return n;
}

struct expansion {
    int is_date;
    int first;
};

static void print_start(icalcomponent *comp, struct icaltime_span *span, void *data) {
    struct expansion *e = data;
    char text[32];
    struct tm tm;
    (void)comp;
    gmtime_r(&span->start, &tm);
    strftime(text, sizeof text, e->is_date ? "%Y-%m-%d" : "%Y-%m-%dT%H:%M:%SZ", &tm);
    printf("%s\"%s\"", e->first ? "" : ",", text);
    e->first = 0;
}

static char *read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = malloc((size_t)size + 1);
    size_t got = fread(text, 1, (size_t)size, f);
    text[got] = '\0';
    fclose(f);
    return text;
}

int main(int argc, char **argv) {
    icalerror_set_errors_are_fatal(0);
    if (argc < 2) return 2;
    struct icaltimetype from = icaltime_from_timet_with_zone(0, 0, icaltimezone_get_utc_timezone());
    struct icaltimetype to = icaltime_from_timet_with_zone((time_t)atoll(argv[1]), 0, icaltimezone_get_utc_timezone());
    printf("{");
    for (int i = 2; i < argc; ++i) {
        char *text = read_file(argv[i]);
        icalcomponent *calendar = text ? icalparser_parse_string(text) : NULL;
        free(text);
        printf("%s\"%s\":{\"errors\":%d,\"events\":{", i > 2 ? "," : "", argv[i], calendar ? count_errors(calendar) : -1);
        int first_event = 1;
        for (icalcomponent *e = calendar ? icalcomponent_get_first_component(calendar, ICAL_VEVENT_COMPONENT) : NULL; e;
             e = icalcomponent_get_next_component(calendar, ICAL_VEVENT_COMPONENT)) {
            struct expansion x = {icalcomponent_get_dtstart(e).is_date, 1};
            printf("%s\"%s\":[", first_event ? "" : ",", icalcomponent_get_uid(e));
            icalcomponent_foreach_recurrence(e, from, to, print_start, &x);
            printf("]");
            first_event = 0;
        }
        printf("}}");
        if (calendar) icalcomponent_free(calendar);
    }
    printf("}\n");
    return 0;
}
