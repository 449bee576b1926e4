# embed_file.cmake -DIN=FILE -DOUT=C_FILE: writes FILE's bytes as a C array (serve_page,
# serve_page_len) so the service's web page is part of the binary and needs no files at
# run time.
file(READ ${IN} hex HEX)
string(LENGTH "${hex}" n)
math(EXPR bytes "${n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
string(REGEX REPLACE "((0x..,){24})" "\\1\n" body "${body}")
file(WRITE ${OUT} "/* generated from ${IN} by cmake/embed_file.cmake: do not edit */\n#include <stddef.h>\n"
     "const unsigned char serve_page[] = {\n${body}0x00};\nconst size_t serve_page_len = ${bytes};\n")
