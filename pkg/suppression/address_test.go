package suppression

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mailbridge/mailbridge/internal/natstest"
)

func TestParseAddressNormalizes(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"  User@Example.JP  ":           "User@example.jp",
		"user@example.jp.":              "user@example.jp",
		`"a@b"@example.jp`:              `"a@b"@example.jp`,
		"日本語@例え.JP":                     "日本語@例え.jp",
		"a+tag/x=y.z@sub.ex.com":        "a+tag/x=y.z@sub.ex.com",
		"Taro Yamada <User@Example.JP>": "User@example.jp",
		"山田 太郎 <taro@example.jp>":       "taro@example.jp",
		"<user@example.jp>":             "user@example.jp",
	}
	for in, want := range cases {
		got, err := ParseAddress(in)
		if err != nil || got.String() != want {
			t.Errorf("ParseAddress(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestParseAddressRejects(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"", "nobody", "@example.jp", "user@", "a b@example.jp", "user@exa..mple.jp", "user@.example.jp", "user@[1.2.3.4]x", "a@b@example.jp", "<>", "Taro <>"} {
		if _, err := ParseAddress(in); !errors.Is(err, ErrInvalidAddress) {
			t.Errorf("ParseAddress(%q) error = %v, want ErrInvalidAddress", in, err)
		}
	}
}

func TestParseAddressErrorOmitsLocalPart(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("secret", 11) + "@example.jp"
	for _, in := range []string{"secret.example.jp", "secret@", "Taro <secret@exa mple.jp>", "secret@b@example.jp", "secret@exa..mple.jp", long} {
		_, err := ParseAddress(in)
		if err == nil {
			t.Errorf("ParseAddress(%q) accepted an invalid address", in)
			continue
		}
		if strings.Contains(err.Error(), "secret") {
			t.Errorf("ParseAddress(%q) error %q contains the local part", in, err)
		}
	}
}

func TestKeysAreValidForAnyAddress(t *testing.T) {
	t.Parallel()
	b := setup(t, Policy{})
	ctx := natstest.Context(t, 20*time.Second)
	for i, in := range []string{`"a.b c"@example.jp`, "a..b@example.jp", "*@example.jp", ">@example.jp", "user.@例え.jp", "UPPER@example.jp"} {
		address, err := ParseAddress(in)
		if err != nil {
			continue // rejected addresses never reach the bucket
		}
		if _, _, err := b.store.Add(ctx, address, fmt.Sprint("r", i), ""); err != nil {
			t.Errorf("add %q (key %q): %v", in, address.Key(), err)
		}
		folded, err := foldedFromKey(address.Key())
		if err != nil || folded != address.Folded() {
			t.Errorf("key of %q decodes to %q, %v; want %q", in, folded, err, address.Folded())
		}
	}
	if Address("UPPER@example.jp").Key() != Address("upper@example.jp").Key() {
		t.Error("addresses differing only in case have different keys")
	}
}

func FuzzParseAddressKey(f *testing.F) {
	for _, seed := range []string{"user@example.jp", `"x y"@ex.jp`, "a@b@c", "\x00@x", "ü@Ü.de"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		address, err := ParseAddress(in)
		if err != nil {
			return
		}
		folded, err := foldedFromKey(address.Key())
		if err != nil || folded != address.Folded() {
			t.Fatalf("key of %q decodes to %q, %v", in, folded, err)
		}
		if lookup, ok := foldLookup(in); !ok || lookup != address.Folded() {
			t.Fatalf("foldLookup(%q) = %q, %t; want %q", in, lookup, ok, address.Folded())
		}
	})
}
