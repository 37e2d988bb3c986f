#include "shm/shareable_list.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "serialize/codec.h"
#include "serialize/object.h"

namespace mp {
namespace {

// Back-transform codes, CPython's `_back_transforms_mapping` keys.
enum Code : int8_t {
  kCodeNumber = 0,  // int, float, bool
  kCodeStr = 1,
  kCodeBytes = 2,
  kCodeNone = 3,
};

constexpr size_t kWord = 8;  // CPython's `_alignment` and format field size.

// A format field as the 8 bytes CPython's `struct.pack_into("8s", ...)`
// writes: the text, NUL-padded.
using FormatField = std::array<char, kWord>;

constexpr FormatField MakeField(const char* text) {
  FormatField field{};
  for (size_t i = 0; i < kWord && text[i] != '\0'; ++i) field[i] = text[i];
  return field;
}

constexpr FormatField kIntFormat = MakeField("q");
constexpr FormatField kDoubleFormat = MakeField("d");
constexpr FormatField kBoolFormat = MakeField("xxxxxxx?");
constexpr FormatField kNoneFormat = MakeField("xxxxxx?x");
// CPython places a bool at the last byte of its slot and None's dummy flag at
// the one before.
constexpr size_t kBoolByte = 7;

uint64_t LoadWord(const std::byte* at) {
  uint64_t word;
  std::memcpy(&word, at, sizeof(word));
  return word;
}

void StoreWord(std::byte* at, uint64_t word) {
  std::memcpy(at, &word, sizeof(word));
}

// The bytes a str or bytes item stores, or null for other kinds.
const std::string* TextOf(const ShareableList::Item& item) {
  if (const auto* text = std::get_if<std::string>(&item)) return text;
  if (const auto* bytes = std::get_if<Bytes>(&item)) return &bytes->value;
  return nullptr;
}

// The format field of a number, bool or None; each fits any slot.
FormatField FixedFormat(const ShareableList::Item& item) {
  if (std::holds_alternative<int64_t>(item)) return kIntFormat;
  if (std::holds_alternative<double>(item)) return kDoubleFormat;
  if (std::holds_alternative<bool>(item)) return kBoolFormat;
  return kNoneFormat;
}

// Returns the format field that a str or bytes `item` (whose bytes are
// `text`) takes in a slot of `slot` bytes, or why it cannot go there. CPython's
// "<slot>s" reads back with trailing NULs stripped: exact unless the text
// itself ends in NUL; then "<length>s<pad>x" records the length, a form
// CPython unpacks (one value) and overwrites with "<slot>s".
absl::StatusOr<FormatField> TextFormat(const ShareableList::Item& item,
                                       const std::string* text, size_t slot) {
  const bool is_str = std::holds_alternative<std::string>(item);
  auto refuse = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(
        is_str ? "str" : "bytes", " of ", text->size(), " bytes ", why));
  };
  if (text->size() > slot) {
    return refuse(absl::StrCat("does not fit its ", slot, "-byte slot"));
  }
  if (is_str && !serialize_internal::IsUtf8(*text)) {
    return refuse("is not valid UTF-8; store it as Bytes");
  }
  const std::string form =
      !text->empty() && text->back() == '\0'
          ? absl::StrCat(text->size(), "s", slot - text->size(), "x")
          : absl::StrCat(slot, "s");
  if (form.size() > kWord) {
    return refuse(absl::StrCat("would need the format \"", form,
                               "\", longer than the 8-byte format field"));
  }
  FormatField field{};
  std::memcpy(field.data(), form.data(), form.size());
  return field;
}

// What a format field says about its item.
struct Format {
  enum class Kind { kInt, kDouble, kBool, kNone, kText, kInvalid };
  Kind kind = Kind::kInvalid;
  size_t length = 0;   // kText: bytes to read from the slot.
  bool exact = false;  // kText: `length` is exact; otherwise strip NULs.
};

// Reads a decimal count at `*at`, advancing it; false when there is none.
bool ParseCount(const char*& at, const char* end, size_t& count) {
  auto [next, error] = std::from_chars(at, end, count);
  if (error != std::errc() || next == at) return false;
  at = next;
  return true;
}

Format ParseFormat(const FormatField& field) {
  Format format;
  if (field == kIntFormat) {
    format.kind = Format::Kind::kInt;
  } else if (field == kDoubleFormat) {
    format.kind = Format::Kind::kDouble;
  } else if (field == kBoolFormat) {
    format.kind = Format::Kind::kBool;
  } else if (field == kNoneFormat) {
    format.kind = Format::Kind::kNone;
  } else {
    const char* at = field.data();
    const char* end = at + kWord;
    while (end > at && end[-1] == '\0') --end;
    size_t length = 0;
    size_t pad = 0;
    if (!ParseCount(at, end, length) || at == end || *at++ != 's') {
      return format;
    }
    if (at != end) {
      if (!ParseCount(at, end, pad) || at == end || *at++ != 'x' || at != end) {
        return format;
      }
      format.exact = true;
    }
    format.kind = Format::Kind::kText;
    format.length = length;
  }
  return format;
}

// A number as an mp::Object, whose == is Python's between numbers (exact:
// 1 == 1.0 == True, 2**53 + 1 != 2.0**53); nullopt for anything else.
std::optional<Object> AsNumber(const ShareableList::Item& item) {
  if (const bool* flag = std::get_if<bool>(&item)) return Object(*flag);
  if (const int64_t* integer = std::get_if<int64_t>(&item)) {
    return Object(*integer);
  }
  if (const double* real = std::get_if<double>(&item)) return Object(*real);
  return std::nullopt;
}

// Python's `==`, as index() and count() use it.
bool PythonEqual(const ShareableList::Item& a, const ShareableList::Item& b) {
  const std::optional<Object> left = AsNumber(a);
  const std::optional<Object> right = AsNumber(b);
  if (left.has_value() && right.has_value()) return *left == *right;
  return a == b;
}

}  // namespace

ShareableList::ShareableList(SharedMemory shm, std::vector<uint64_t> offsets)
    : shm_(std::move(shm)), offsets_(std::move(offsets)) {
  if (offsets_.empty()) return;  // A placeholder.
  const size_t count = size();
  data_start_ = (count + 2) * kWord;
  formats_start_ = data_start_ + offsets_.back();
  codes_start_ = formats_start_ + count * kWord;
}

absl::StatusOr<ShareableList> ShareableList::Create(
    absl::Span<const Item> items, absl::string_view name) {
  const size_t count = items.size();
  std::vector<uint64_t> offsets;
  offsets.reserve(count + 1);
  offsets.push_back(0);
  std::vector<FormatField> formats;
  formats.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    const std::string* text = TextOf(items[i]);
    if (text == nullptr) {
      formats.push_back(FixedFormat(items[i]));
      offsets.push_back(offsets.back() + kWord);
      continue;
    }
    auto refuse = [&](absl::string_view why) {
      return absl::InvalidArgumentError(
          absl::StrCat("ShareableList \"", name.empty() ? "<fresh name>" : name,
                       "\": item ", i, ": ", why));
    };
    const size_t slot = kWord * (text->size() / kWord + 1);
    if (slot > kMaxSlotSize) {
      return refuse(absl::StrCat(text->size(),
                                 " bytes exceed the largest slot, ",
                                 kMaxSlotSize, " bytes"));
    }
    absl::StatusOr<FormatField> format = TextFormat(items[i], text, slot);
    if (!format.ok()) return refuse(format.status().message());
    formats.push_back(*format);
    offsets.push_back(offsets.back() + slot);
  }
  // CPython's struct.calcsize("q" + "q"*(n+1) + formats + "8s"*n + "b"*n):
  // every slot is a multiple of 8, so no alignment padding appears.
  const size_t total =
      (count + 2) * kWord + offsets.back() + count * kWord + count;
  absl::StatusOr<SharedMemory> shm = SharedMemory::Create(total, name);
  if (!shm.ok()) return shm.status();

  ShareableList list(*std::move(shm), std::move(offsets));
  std::byte* base = list.shm_.data();
  StoreWord(base, static_cast<uint64_t>(count));
  std::memcpy(base + kWord, list.offsets_.data(), (count + 1) * kWord);
  // The segment starts zeroed, so these writes equal CPython's initial
  // struct.pack_into.
  for (size_t i = 0; i < count; ++i) list.Write(i, items[i], formats[i]);
  return list;
}

absl::StatusOr<ShareableList> ShareableList::Attach(absl::string_view name) {
  absl::StatusOr<SharedMemory> shm = SharedMemory::Attach(name);
  if (!shm.ok()) return shm.status();
  const std::byte* base = shm->data();
  const size_t size = shm->size();
  auto corrupt = [&](absl::string_view why) {
    return absl::DataLossError(absl::StrCat("ShareableList \"", shm->name(),
                                            "\": not a valid list: ", why));
  };
  if (size < 2 * kWord) {
    return corrupt(absl::StrCat("the segment has only ", size, " bytes"));
  }
  const uint64_t count = LoadWord(base);
  // Header, offsets, and per item at least an 8-byte slot, a format field
  // and a code byte.
  const uint64_t max_count = (size - 2 * kWord) / (3 * kWord + 1);
  if (count > max_count) {
    return corrupt(absl::StrCat("it claims ", static_cast<int64_t>(count),
                                " items, the segment has room for at most ",
                                max_count));
  }
  std::vector<uint64_t> offsets(count + 1);
  std::memcpy(offsets.data(), base + kWord, (count + 1) * kWord);
  if (offsets[0] != 0) {
    return corrupt(
        absl::StrCat("the first item starts at ", offsets[0], ", not 0"));
  }
  const size_t data_start = (count + 2) * kWord;
  const size_t data_room = size - data_start - count * (kWord + 1);
  for (size_t i = 0; i < count; ++i) {
    if (offsets[i + 1] < offsets[i] + kWord || offsets[i + 1] > data_room) {
      return corrupt(absl::StrCat("item ", i, " has slot [", offsets[i], ", ",
                                  offsets[i + 1], "), the data area has ",
                                  data_room, " bytes"));
    }
  }
  return ShareableList(*std::move(shm), std::move(offsets));
}

absl::StatusOr<size_t> ShareableList::Position(int64_t index) const {
  if (!shm_.is_open()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "ShareableList \"", shm_.name(), "\": the segment is closed"));
  }
  const int64_t count = static_cast<int64_t>(size());
  const int64_t position = index < 0 ? index + count : index;
  if (position < 0 || position >= count) {
    return absl::OutOfRangeError(
        absl::StrCat("ShareableList \"", shm_.name(), "\": index ", index,
                     " is out of range for ", count, " items"));
  }
  return static_cast<size_t>(position);
}

absl::Status ShareableList::SlotError(size_t position,
                                      absl::string_view what) const {
  return absl::DataLossError(absl::StrCat("ShareableList \"", shm_.name(),
                                          "\": item ", position, ": ", what));
}

absl::StatusOr<ShareableList::Item> ShareableList::Get(int64_t index) const {
  absl::StatusOr<size_t> position = Position(index);
  if (!position.ok()) return position.status();
  const std::byte* data = ItemData(*position);
  FormatField field;
  std::memcpy(field.data(), ItemFormat(*position), kWord);
  const auto code = static_cast<int8_t>(*ItemCode(*position));
  if (code == kCodeNone) return None();
  const Format format = ParseFormat(field);
  switch (format.kind) {
    case Format::Kind::kInt:
    case Format::Kind::kDouble:
    case Format::Kind::kBool:
      if (code != kCodeNumber) break;
      if (format.kind == Format::Kind::kInt) {
        return static_cast<int64_t>(LoadWord(data));
      }
      if (format.kind == Format::Kind::kDouble) {
        double real;
        std::memcpy(&real, data, sizeof(real));
        return real;
      }
      return data[kBoolByte] != std::byte{0};
    case Format::Kind::kNone:
      break;  // Only with kCodeNone, handled above.
    case Format::Kind::kText: {
      if (code != kCodeStr && code != kCodeBytes) break;
      if (format.length > SlotSize(*position)) {
        return SlotError(
            *position,
            absl::StrCat("its format claims ", format.length,
                         " bytes in a slot of ", SlotSize(*position)));
      }
      size_t length = format.length;
      if (!format.exact) {
        while (length > 0 && data[length - 1] == std::byte{0}) --length;
      }
      std::string text(reinterpret_cast<const char*>(data), length);
      if (code == kCodeBytes) return Bytes{std::move(text)};
      return text;
    }
    case Format::Kind::kInvalid:
      return SlotError(
          *position,
          absl::StrCat("unknown format \"",
                       absl::CHexEscape(absl::string_view(field.data(), kWord)),
                       "\""));
  }
  return SlotError(
      *position,
      absl::StrCat("format \"",
                   absl::CHexEscape(absl::string_view(field.data(), kWord)),
                   "\" does not go with type code ", static_cast<int>(code)));
}

absl::Status ShareableList::Set(int64_t index, const Item& item) {
  absl::StatusOr<size_t> position = Position(index);
  if (!position.ok()) return position.status();
  const std::string* text = TextOf(item);
  if (text == nullptr) {
    Write(*position, item, FixedFormat(item));
    return absl::OkStatus();
  }
  absl::StatusOr<FormatField> format =
      TextFormat(item, text, SlotSize(*position));
  if (!format.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("ShareableList \"", shm_.name(), "\": item ", *position,
                     ": ", format.status().message()));
  }
  Write(*position, item, *format);
  return absl::OkStatus();
}

void ShareableList::Write(size_t position, const Item& item,
                          const std::array<char, 8>& format) {
  std::byte* data = ItemData(position);
  Code code = kCodeNumber;
  if (const std::string* text = TextOf(item)) {
    code = std::holds_alternative<std::string>(item) ? kCodeStr : kCodeBytes;
    std::memcpy(data, text->data(), text->size());
    std::memset(data + text->size(), 0, SlotSize(position) - text->size());
  } else if (const int64_t* integer = std::get_if<int64_t>(&item)) {
    StoreWord(data, static_cast<uint64_t>(*integer));
  } else if (const double* real = std::get_if<double>(&item)) {
    std::memcpy(data, real, sizeof(*real));
  } else if (const bool* flag = std::get_if<bool>(&item)) {
    std::memset(data, 0, kWord);
    data[kBoolByte] = *flag ? std::byte{1} : std::byte{0};
  } else {
    code = kCodeNone;
    std::memset(data, 0, kWord);
  }
  std::memcpy(ItemFormat(position), format.data(), kWord);
  *ItemCode(position) = static_cast<std::byte>(code);
}

absl::StatusOr<std::vector<ShareableList::Item>> ShareableList::Copy() const {
  std::vector<Item> items;
  items.reserve(size());
  for (size_t i = 0; i < size(); ++i) {
    absl::StatusOr<Item> item = Get(static_cast<int64_t>(i));
    if (!item.ok()) return item.status();
    items.push_back(*std::move(item));
  }
  return items;
}

absl::StatusOr<size_t> ShareableList::Count(const Item& item) const {
  size_t matches = 0;
  for (size_t i = 0; i < size(); ++i) {
    absl::StatusOr<Item> entry = Get(static_cast<int64_t>(i));
    if (!entry.ok()) return entry.status();
    if (PythonEqual(*entry, item)) ++matches;
  }
  return matches;
}

absl::StatusOr<size_t> ShareableList::Index(const Item& item) const {
  for (size_t i = 0; i < size(); ++i) {
    absl::StatusOr<Item> entry = Get(static_cast<int64_t>(i));
    if (!entry.ok()) return entry.status();
    if (PythonEqual(*entry, item)) return i;
  }
  return absl::NotFoundError(absl::StrCat("ShareableList \"", shm_.name(),
                                          "\": ", Repr(item),
                                          " is not in the list"));
}

absl::StatusOr<std::string> ShareableList::format() const {
  std::string all;
  for (size_t i = 0; i < size(); ++i) {
    const char* field = reinterpret_cast<const char*>(ItemFormat(i));
    all.append(field, strnlen(field, kWord));
  }
  return all;
}

std::string ShareableList::ListRepr(absl::Span<const Item> items) {
  return absl::StrCat("[",
                      absl::StrJoin(items, ", ",
                                    [](std::string* out, const Item& item) {
                                      out->append(Repr(item));
                                    }),
                      "]");
}

absl::StatusOr<std::string> ShareableList::Repr() const {
  absl::StatusOr<std::vector<Item>> items = Copy();
  if (!items.ok()) return items.status();
  return absl::StrCat("ShareableList(", ListRepr(*items),
                      ", name=", Repr(Item(shm_.name())), ")");
}

std::string ShareableList::Repr(const Item& item) {
  struct Printer {
    std::string operator()(None) const { return "None"; }
    std::string operator()(bool flag) const { return flag ? "True" : "False"; }
    std::string operator()(int64_t integer) const {
      return absl::StrCat(integer);
    }
    std::string operator()(double real) const {
      if (std::isnan(real)) return "nan";
      if (std::isinf(real)) return real > 0 ? "inf" : "-inf";
      // Python's repr: the shortest digits that round-trip, in positional
      // notation for exponents in [-4, 16) (with ".0" when integral) and in
      // scientific notation otherwise.
      std::array<char, 64> buffer;
      char* const begin = buffer.data();
      char* end = std::to_chars(begin, begin + buffer.size(), real,
                                std::chars_format::scientific)
                      .ptr;
      const char* exponent_mark = std::find(begin, end, 'e');
      int exponent = 0;
      std::from_chars(exponent_mark + (exponent_mark[1] == '+' ? 2 : 1), end,
                      exponent);
      if (exponent < -4 || exponent >= 16) return std::string(begin, end);
      end = std::to_chars(begin, begin + buffer.size(), real,
                          std::chars_format::fixed)
                .ptr;
      std::string text(begin, end);
      if (text.find('.') == std::string::npos) text += ".0";
      return text;
    }
    std::string operator()(const std::string& text) const {
      return serialize_internal::PythonQuote(text, /*bytes=*/false);
    }
    std::string operator()(const Bytes& bytes) const {
      return serialize_internal::PythonQuote(bytes.value, /*bytes=*/true);
    }
  };
  return std::visit(Printer{}, item);
}

void Codec<ShareableList>::Encode(const ShareableList& list,
                                  serialize_internal::Writer& writer) {
  shm_internal::EncodeSegmentName("ShareableList", list.shm(), writer);
}

absl::Status Codec<ShareableList>::Decode(
    const serialize_internal::ValueView& view, int, ShareableList* out) {
  absl::StatusOr<std::string> name =
      shm_internal::DecodeSegmentName(view, "ShareableList");
  if (!name.ok()) return name.status();
  absl::StatusOr<ShareableList> attached = ShareableList::Attach(*name);
  if (!attached.ok()) return attached.status();
  *out = *std::move(attached);
  return absl::OkStatus();
}

}  // namespace mp
