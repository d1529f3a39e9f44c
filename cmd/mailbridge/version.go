package main

import "runtime/debug"

// When no -ldflags set version, take it from the build information that
// the go command writes into the binary.
func init() {
	if version == "dev" {
		version = buildVersion(debug.ReadBuildInfo())
	}
}

// buildVersion returns the main module's version, such as v1.2.0 or the
// pseudo-version that go build derives from the repository, or else
// dev-REVISION (with -dirty for uncommitted changes) from the VCS
// settings. It returns dev when the binary records neither, as with
// go run or -buildvcs=false.
func buildVersion(info *debug.BuildInfo, ok bool) string {
	if !ok {
		return "dev"
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var revision, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			revision = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if revision == "" {
		return "dev"
	}
	if len(revision) > 12 {
		revision = revision[:12]
	}
	if modified == "true" {
		return "dev-" + revision + "-dirty"
	}
	return "dev-" + revision
}
