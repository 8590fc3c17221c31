# One INTERFACE target carries warnings and sanitizer flags; every almanac target links it.
add_library(almanac_settings INTERFACE)
target_compile_options(almanac_settings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast -Wcast-align
  -Woverloaded-virtual -Wimplicit-fallthrough -Wno-trigraphs)
if(ALMANAC_WERROR)
  target_compile_options(almanac_settings INTERFACE -Werror)
endif()
if(ALMANAC_SANITIZE)
  target_compile_options(almanac_settings INTERFACE
    -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  target_link_options(almanac_settings INTERFACE -fsanitize=address,undefined)
endif()
