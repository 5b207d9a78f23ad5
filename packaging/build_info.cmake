# Run at every build (cmake -P): writes OUT from the configured template IN
# with the source tree's commit (SRC), or $DARASA_COMMIT for a build outside
# a git checkout. configure_file rewrites OUT only when its text changes, so
# only a new commit recompiles it.
set(DARASA_COMMIT "$ENV{DARASA_COMMIT}")
set(DARASA_MODIFIED false)
if(DARASA_COMMIT STREQUAL "")
  execute_process(COMMAND git -C "${SRC}" rev-parse HEAD
                  OUTPUT_VARIABLE DARASA_COMMIT OUTPUT_STRIP_TRAILING_WHITESPACE
                  RESULT_VARIABLE rc ERROR_QUIET)
  if(NOT rc EQUAL 0)
    set(DARASA_COMMIT "")
  else()
    execute_process(COMMAND git -C "${SRC}" status --porcelain --untracked-files=no
                    OUTPUT_VARIABLE changes RESULT_VARIABLE rc ERROR_QUIET)
    if(rc EQUAL 0 AND NOT changes STREQUAL "")
      set(DARASA_MODIFIED true)
    endif()
  endif()
endif()
configure_file("${IN}" "${OUT}" @ONLY)
