# The wire codec sources (xscore/wire), shared by the unit and fuzz tiers.
# Listed, not globbed: other codecs that land in xscore/wire bring their own
# tests and must not break these while being written.
set(XS_WIRE_CODEC_SOURCES
  ${CMAKE_SOURCE_DIR}/xscore/wire/stats.c
  ${CMAKE_SOURCE_DIR}/xscore/wire/mad.c
  ${CMAKE_SOURCE_DIR}/xscore/wire/sa.c
  ${CMAKE_SOURCE_DIR}/xscore/wire/sr.c
  ${CMAKE_SOURCE_DIR}/xscore/wire/pr.c
  ${CMAKE_SOURCE_DIR}/xscore/wire/xcpm.c
  ${CMAKE_SOURCE_DIR}/xscore/wire/xsmp.c
  ${CMAKE_SOURCE_DIR}/xscore/util/log.c
  ${CMAKE_SOURCE_DIR}/xscore/util/common.c)
