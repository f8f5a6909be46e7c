/* Task rules; see rules.h. */
#include "rules.h"

#include "number.h"

bool rules_check(const struct answer *answer, struct violation *violation) {
    if (answer->criteria_len == 0) {
        *violation = (struct violation){
            .path = text_from("/criteria"),
            .reason = text_from(
                "expected a decision for every criterion of the trial, found none"),
        };
        return false;
    }
    for (size_t j = 0; j < answer->criteria_len; j++) {
        for (size_t first = 0; first < j; first++) {
            if (answer->criteria[first].index != answer->criteria[j].index) {
                continue;
            }
            struct text path = text_from("/criteria/");
            text_push_u64(&path, j);
            text_push_str(&path, "/index");
            struct text reason = text_from("expected each index once, found `");
            number_push_display(&reason, answer->criteria[j].index);
            text_push_str(&reason, "` again (first at `/criteria/");
            text_push_u64(&reason, first);
            text_push_str(&reason, "`)");
            *violation = (struct violation){.path = path, .reason = reason};
            return false;
        }
    }
    return true;
}
