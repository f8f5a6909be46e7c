/* The task's functions; see task.h. */
#include "task.h"

#include "answer.h"
#include "format.h"
#include "prediction.h"
#include "record.h"
#include "rules.h"

bool task_format_example(struct slice example, struct text *user, struct text *completion,
                         struct task_error *error) {
    struct arena arena = {0};
    struct record record;
    bool ok = record_parse(example, &arena, &record, error);
    if (ok) {
        format_example(&record, user, completion);
    }
    arena_free(&arena);
    return ok;
}

/* Score `prediction` against the record `example`. */
static bool scored(struct slice prediction, struct slice example, struct record_score *score,
                   struct task_error *error) {
    struct arena arena = {0};
    struct record record;
    bool ok = record_parse(example, &arena, &record, error);
    if (ok) {
        *score = score_prediction(prediction, &record);
    }
    arena_free(&arena);
    return ok;
}

bool task_score(struct slice prediction, struct slice example, struct example_score *score,
                struct task_error *error) {
    struct record_score record_score;
    if (!scored(prediction, example, &record_score, error)) {
        return false;
    }
    *score = score_to_example_score(&record_score);
    return true;
}

bool task_reward(struct slice prediction, struct slice example, double *reward,
                 struct task_error *error) {
    struct record_score record_score;
    if (!scored(prediction, example, &record_score, error)) {
        return false;
    }
    *reward = score_reward(&record_score);
    return true;
}

bool task_validate(struct slice prediction, struct violation *violation) {
    struct arena arena = {0};
    const struct json_value *value = prediction_parse_json(prediction, &arena);
    struct answer answer;
    bool ok;
    if (value == NULL) {
        *violation = (struct violation){
            .path = {0},
            .reason = text_from("expected a JSON object, found text that is not JSON"),
        };
        ok = false;
    } else {
        ok = answer_from_value(value, &arena, &answer, violation) &&
             rules_check(&answer, violation);
    }
    arena_free(&arena);
    return ok;
}
