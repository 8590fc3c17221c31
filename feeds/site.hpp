// A site: the configuration plus every item parsed from the content tree, with the checks that
// need more than one file (duplicate UIDs and permalinks). The input of every renderer.
#pragma once

#include <cstddef>
#include <iterator>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "feeds/content.hpp"
#include "feeds/diagnostic.hpp"
#include "feeds/item.hpp"
#include "feeds/site_config.hpp"

namespace almanac {

// A site's items, each held by a shared_ptr<const Item>, read like a std::vector<const Item>:
// iterating gives const Item&. Sites built one after another share the items of every file an edit
// left alone (the daemon's ContentState) instead of each holding a copy of all of them.
class ItemList {
    using Pointers = std::vector<std::shared_ptr<const Item>>;

public:
    class const_iterator {
    public:
        using iterator_category = std::random_access_iterator_tag;
        using value_type = Item;
        using difference_type = std::ptrdiff_t;
        using pointer = const Item*;
        using reference = const Item&;

        const_iterator() = default;
        explicit const_iterator(Pointers::const_iterator at) : at_(at) {}
        reference operator*() const { return **at_; }
        pointer operator->() const { return at_->get(); }
        reference operator[](difference_type n) const { return *at_[n]; }
        const_iterator& operator++() {
            ++at_;
            return *this;
        }
        const_iterator operator++(int) { return const_iterator(at_++); }
        const_iterator& operator--() {
            --at_;
            return *this;
        }
        const_iterator operator--(int) { return const_iterator(at_--); }
        const_iterator& operator+=(difference_type n) {
            at_ += n;
            return *this;
        }
        const_iterator& operator-=(difference_type n) {
            at_ -= n;
            return *this;
        }
        friend const_iterator operator+(const_iterator i, difference_type n) { return i += n; }
        friend const_iterator operator+(difference_type n, const_iterator i) { return i += n; }
        friend const_iterator operator-(const_iterator i, difference_type n) { return i -= n; }
        friend difference_type operator-(const const_iterator& a, const const_iterator& b) { return a.at_ - b.at_; }
        friend bool operator==(const const_iterator& a, const const_iterator& b) { return a.at_ == b.at_; }
        friend bool operator<(const const_iterator& a, const const_iterator& b) { return a.at_ < b.at_; }
        friend bool operator>(const const_iterator& a, const const_iterator& b) { return b < a; }
        friend bool operator<=(const const_iterator& a, const const_iterator& b) { return !(b < a); }
        friend bool operator>=(const const_iterator& a, const const_iterator& b) { return !(a < b); }

    private:
        Pointers::const_iterator at_;
    };
    using iterator = const_iterator;
    using value_type = Item;
    using size_type = std::size_t;

    const_iterator begin() const { return const_iterator(items_.begin()); }
    const_iterator end() const { return const_iterator(items_.end()); }
    std::size_t size() const { return items_.size(); }
    bool empty() const { return items_.empty(); }
    const Item& operator[](std::size_t i) const { return *items_[i]; }
    const Item& front() const { return *items_.front(); }
    const Item& back() const { return *items_.back(); }
    void reserve(std::size_t n) { items_.reserve(n); }
    void push_back(Item item) { items_.push_back(std::make_shared<const Item>(std::move(item))); }
    void push_back(std::shared_ptr<const Item> item) { items_.push_back(std::move(item)); }
    const std::shared_ptr<const Item>& shared(std::size_t i) const { return items_[i]; }
    void replace(std::size_t i, std::shared_ptr<const Item> item) { items_[i] = std::move(item); }

private:
    Pointers items_;
};

struct Site {
    SiteConfig config;
    ItemList items;           // sorted by path, then index: independent of directory order
    Diagnostics diagnostics;  // every content problem (per-file and cross-file), sorted
};

// A parsed file whose items are shared rather than owned (see ItemList).
struct SharedSource {
    std::string display_path;
    std::vector<std::shared_ptr<const Item>> items;
    Diagnostics diagnostics;
};

// Assembles a site from parsed files (keyed by path relative to the content dir). Items whose UID
// repeats an earlier one (in path order) are dropped with an error at their file.
Site assemble_site(SiteConfig config, const std::map<std::string, ParsedSource>& files, Diagnostics tree_diagnostics);
// The same, moving the items out of `files` instead of copying them.
Site assemble_site(SiteConfig config, std::map<std::string, ParsedSource>&& files, Diagnostics tree_diagnostics);
// The same, sharing the items of `files`.
// The same from shared items, each file given by its path and its source, in path order: the
// daemon's ContentState keeps these, and assembling its site after an edit copies no file's entry.
using SharedSources = std::vector<std::pair<std::string_view, const SharedSource*>>;
Site assemble_site(SiteConfig config, const SharedSources& files, Diagnostics tree_diagnostics);

}  // namespace almanac
