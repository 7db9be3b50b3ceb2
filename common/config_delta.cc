#include "common/config_delta.h"

#include <fmt/format.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/util/message_differencer.h>

#include <algorithm>
#include <map>
#include <set>

#include "common/fnv.h"

namespace weft::config {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::RepeatedPtrField;
using google::protobuf::util::MessageDifferencer;

// The sections replaced whole (admin, drain, lifecycle, locality,
// workload, ...): every singular message field of ProxyConfig, carried by
// the ConfigDelta field of the same name. `visit(config_field,
// delta_field)`; a section the delta lacks is a bug its test catches.
template <class Visit>
void for_each_section(const Visit& visit) {
  const auto* config = mesh::v1::ProxyConfig::descriptor();
  const auto* delta = mesh::v1::ConfigDelta::descriptor();
  for (int i = 0; i < config->field_count(); ++i) {
    const auto* field = config->field(i);
    if (field->is_repeated() || field->type() != FieldDescriptor::TYPE_MESSAGE) continue;
    if (const auto* carried = delta->FindFieldByName(field->name())) visit(field, carried);
  }
}

// Upserts and removals for one repeated, named field.
template <class T>
void diff(const RepeatedPtrField<T>& from, const RepeatedPtrField<T>& to,
          RepeatedPtrField<T>& upserts, RepeatedPtrField<std::string>& removed) {
  std::map<std::string, const T*> old;
  for (const auto& item : from) old[item.name()] = &item;
  for (const auto& item : to) {
    auto it = old.find(item.name());
    if (it == old.end() || !MessageDifferencer::Equals(*it->second, item)) *upserts.Add() = item;
    if (it != old.end()) old.erase(it);
  }
  for (const auto& [name, item] : old) *removed.Add() = name;
}

template <class T>
Result<void> patch(RepeatedPtrField<T>& items, const RepeatedPtrField<T>& upserts,
                   const RepeatedPtrField<std::string>& removed, std::string_view what) {
  std::set<std::string> gone(removed.begin(), removed.end());
  RepeatedPtrField<T> kept;
  for (auto& item : items) {
    if (gone.erase(item.name()) == 0) *kept.Add() = std::move(item);
  }
  if (!gone.empty()) {
    return fail(ErrorCode::kInvalidArgument,
                "delta removes {} '{}', which this proxy does not have", what, *gone.begin());
  }
  std::map<std::string, T*> by_name;
  for (auto& item : kept) by_name[item.name()] = &item;
  for (const auto& item : upserts) {
    if (auto it = by_name.find(item.name()); it != by_name.end()) {
      *it->second = item;
    } else {
      *kept.Add() = item;
    }
  }
  items = std::move(kept);
  return {};
}

template <class T>
void sort_by_name(RepeatedPtrField<T>& items) {
  std::sort(items.begin(), items.end(), [](const T& a, const T& b) { return a.name() < b.name(); });
}

}  // namespace

void canonicalize(mesh::v1::ProxyConfig& config) {
  // An empty section means what an absent one does (a delta replaces a
  // section with its empty form to unset it).
  const auto* reflection = config.GetReflection();
  for_each_section([&](const FieldDescriptor* field, const FieldDescriptor*) {
    if (reflection->HasField(config, field) &&
        reflection->GetMessage(config, field).ByteSizeLong() == 0) {
      reflection->ClearField(&config, field);
    }
  });
  sort_by_name(*config.mutable_listeners());
  sort_by_name(*config.mutable_route_tables());
  sort_by_name(*config.mutable_clusters());
}

std::string content_version(const mesh::v1::ProxyConfig& config) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream out(&stream);
    out.SetSerializationDeterministic(true);
    auto copy = config;
    copy.clear_version();
    canonicalize(copy);
    copy.SerializeToCodedStream(&out);
  }
  return fmt::format("{:016x}", fnv1a64(bytes));
}

mesh::v1::ConfigDelta make_delta(const mesh::v1::ProxyConfig& from,
                                 const mesh::v1::ProxyConfig& to) {
  mesh::v1::ConfigDelta delta;
  const auto* reflection = to.GetReflection();
  for_each_section([&](const FieldDescriptor* field, const FieldDescriptor* carried) {
    const auto& wanted = reflection->GetMessage(to, field);
    if (!MessageDifferencer::Equals(reflection->GetMessage(from, field), wanted)) {
      delta.GetReflection()->MutableMessage(&delta, carried)->CopyFrom(wanted);
    }
  });
  diff(from.listeners(), to.listeners(), *delta.mutable_listeners(),
       *delta.mutable_removed_listeners());
  diff(from.route_tables(), to.route_tables(), *delta.mutable_route_tables(),
       *delta.mutable_removed_route_tables());
  diff(from.clusters(), to.clusters(), *delta.mutable_clusters(),
       *delta.mutable_removed_clusters());
  return delta;
}

Result<mesh::v1::ProxyConfig> apply_delta(const mesh::v1::ProxyConfig& base,
                                          const mesh::v1::ConfigDelta& delta) {
  auto out = base;
  const auto* reflection = delta.GetReflection();
  for_each_section([&](const FieldDescriptor* field, const FieldDescriptor* carried) {
    if (reflection->HasField(delta, carried)) {
      out.GetReflection()
          ->MutableMessage(&out, field)
          ->CopyFrom(reflection->GetMessage(delta, carried));
    }
  });

  if (auto r =
          patch(*out.mutable_listeners(), delta.listeners(), delta.removed_listeners(), "listener");
      !r) {
    return tl::unexpected(r.error());
  }
  if (auto r = patch(*out.mutable_route_tables(), delta.route_tables(),
                     delta.removed_route_tables(), "route table");
      !r) {
    return tl::unexpected(r.error());
  }
  if (auto r =
          patch(*out.mutable_clusters(), delta.clusters(), delta.removed_clusters(), "cluster");
      !r) {
    return tl::unexpected(r.error());
  }
  canonicalize(out);
  return out;
}

}  // namespace weft::config
