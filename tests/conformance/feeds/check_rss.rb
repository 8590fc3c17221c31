#!/usr/bin/ruby
# Parses each RSS 2.0 document given with Ruby's rss library, validation on (required elements,
# RFC 822 dates, known modules: atom, content, dc), and prints "ok FILE" or "FAIL FILE: why".
require 'rss'

failed = 0
ARGV.each do |file|
  begin
    RSS::Parser.parse(File.read(file, encoding: 'UTF-8'), true)
    puts "ok #{file}"
  rescue StandardError => e
    failed += 1
    puts "FAIL #{file}: #{e.class}: #{e.message}"
  end
end
exit(failed.zero? ? 0 : 1)
