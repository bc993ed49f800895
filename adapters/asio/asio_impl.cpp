// The one translation unit that compiles Asio and Beast (separate compilation keeps every other
// file's build cheap on a 2-core machine).
#include <boost/asio/impl/src.hpp>
#include <boost/beast/src.hpp>
