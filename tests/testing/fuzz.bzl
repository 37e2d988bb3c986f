"""mp_fuzz_test: a libFuzzer target that is also a regression test.

In ordinary builds (gcc; asan and ubsan configs too) the target is a cc_test
that replays its seed corpus through tests/testing/fuzz_replay_main.cc, so
every input kept in the corpus (crashes found earlier included) is checked
by `bazel test //...`. Built with `--config=fuzz` (clang, see .bazelrc),
libFuzzer supplies main and the binary fuzzes: tools/fuzz.sh runs each
target for a given time. By convention the corpus of `x_fuzzer` is
`testdata/x_corpus` in its package.
"""

def mp_fuzz_test(name, srcs, corpus, deps = [], **kwargs):
    native.cc_test(
        name = name,
        srcs = srcs,
        data = native.glob([corpus + "/**"]),
        env = {"FUZZ_CORPUS": native.package_name() + "/" + corpus},
        deps = deps + select({
            "//tests/testing:fuzzing": [],
            "//conditions:default": ["//tests/testing:fuzz_replay_main"],
        }),
        linkopts = select({
            "//tests/testing:fuzzing": ["-fsanitize=fuzzer"],
            "//conditions:default": [],
        }),
        # A target may check more per input when replaying its corpus than
        # it can afford while fuzzing.
        local_defines = select({
            "//tests/testing:fuzzing": [],
            "//conditions:default": ["MP_FUZZ_REPLAY=1"],
        }),
        **kwargs
    )
