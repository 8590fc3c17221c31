// A value or an error message: the return type of parsers whose failures are expected.
// (Boost 1.74 predates boost::system::result; std::expected is C++23.)
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace almanac {

struct Unexpected {
    std::string message;
};

inline Unexpected unexpected(std::string message) { return Unexpected{std::move(message)}; }

template <class T>
class Expected {
public:
    Expected(T value) : v_(std::in_place_index<0>, std::move(value)) {}
    Expected(Unexpected e) : v_(std::in_place_index<1>, std::move(e.message)) {}

    bool has_value() const { return v_.index() == 0; }
    explicit operator bool() const { return has_value(); }
    const T& value() const& { return std::get<0>(v_); }
    T& value() & { return std::get<0>(v_); }
    T&& value() && { return std::get<0>(std::move(v_)); }
    const T& operator*() const& { return value(); }
    const T* operator->() const { return &value(); }
    const std::string& error() const { return std::get<1>(v_); }

private:
    std::variant<T, std::string> v_;
};

}  // namespace almanac
