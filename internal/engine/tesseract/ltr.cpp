// Left-to-right result walking. The C API's ResultIterator reorders words
// for bidirectional text, and pays for it on every step: Next(RIL_WORD)
// and IsAtBeginningOf recompute the whole line's order, which makes a
// page's walk quadratic in line length (5% of a dense page's time).
// Tesseract's LTRResultIterator walks in the order the words were found,
// which for left-to-right scripts is the reading order, in linear time;
// the API hands it out only to subclasses, hence Access.

#include <tesseract/baseapi.h>
#include <tesseract/capi.h>
#include <tesseract/ltrresultiterator.h>

namespace {

struct Access : tesseract::TessBaseAPI {
  static tesseract::LTRResultIterator *LTR(tesseract::TessBaseAPI *api) {
    return (api->*&Access::GetLTRIterator)();
  }
};

tesseract::LTRResultIterator *ltr(TessPageIterator *it) {
  return static_cast<tesseract::LTRResultIterator *>(it);
}

} // namespace

extern "C" {

// lector_ltr_iterator returns a left-to-right iterator over the last
// recognition (NULL if there is none); free it with TessPageIteratorDelete.
TessPageIterator *lector_ltr_iterator(TessBaseAPI *api) {
  return Access::LTR(api);
}

// lector_ltr_text is the text at level (free with TessDeleteText).
char *lector_ltr_text(TessPageIterator *it, TessPageIteratorLevel level) {
  return ltr(it)->GetUTF8Text(level);
}

// lector_ltr_conf is the confidence (0-100) at level.
float lector_ltr_conf(TessPageIterator *it, TessPageIteratorLevel level) {
  return ltr(it)->Confidence(level);
}

} // extern "C"
