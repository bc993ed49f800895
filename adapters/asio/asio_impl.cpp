// The one translation unit that compiles Asio and Beast (separate compilation keeps every other
// file's build cheap on a 2-core machine).
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>  // TLS for the one outbound client (adapters/http_client)
#include <boost/beast/src.hpp>
