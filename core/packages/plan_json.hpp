#pragma once
// An install plan as JSON, for install records and the operation journal (adapters/store/
// package_store.hpp). A plan is stored in two parts: the public part (everything but secrets —
// fit for a log, a diff or an API answer) and the secret part (secret environment, secret
// templates and secret answers per container), kept in their own column so that nothing that
// reads or searches the public part can ever see a secret. Together they give back the plan
// exactly, so reconcile and rollback need neither the repository nor a re-plan (which would
// generate new secrets).

#include <string>
#include <string_view>

#include "core/packages/plan.hpp"
#include "core/problem.hpp"

namespace sc::packages {

// {"version":1,"package":{repo,name,version,effective_name},"containers":[…]} without secrets.
std::string plan_public_json(const install_plan& plan);
// {"containers":{"<container name>":{"environment":{…},"templates":[…],"answers":{…}}}}.
std::string plan_secret_json(const install_plan& plan);

// The inverse of the two above. 500-class problem (internal) when the stored text is not a plan:
// a record is written only by us, so a bad one is corruption, not client error.
result<install_plan> plan_from_json(std::string_view public_part, std::string_view secret_part);

}  // namespace sc::packages
