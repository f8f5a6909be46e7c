/* Prompt and completion; see format.h. */
#include "format.h"

const char SYSTEM_PROMPT[] =
    "You decide whether a patient is eligible for a clinical trial. You are given a description of the patient and the trial's criteria, each labelled with its index in square brackets: [1], [2], ... across the inclusion criteria and then the exclusion criteria.\n"
    "For every criterion, decide whether its statement is true of the patient: \"met\" is true when the description shows that it holds, and false otherwise, including when the description does not mention it. For an exclusion criterion, \"met\": true means the exclusion applies to the patient.\n"
    "The patient is eligible when every inclusion criterion is met and no exclusion criterion is met.\n"
    "Reply with one JSON object and nothing else, giving every criterion once, in index order:\n"
    "{\"eligible\":<true or false>,\"criteria\":[{\"index\":1,\"met\":<true or false>},{\"index\":2,\"met\":<true or false>},...]}";

void format_example(const struct record *record, struct text *user, struct text *completion) {
    struct text message = text_from("Patient:\n");
    text_push_slice(&message, record->patient);
    text_push_str(&message, "\n\nTrial: ");
    text_push_slice(&message, record->title);
    text_push_char(&message, '\n');
    static const char *const headings[] = {"Inclusion criteria", "Exclusion criteria"};
    for (int k = 0; k < 2; k++) {
        text_push_char(&message, '\n');
        text_push_str(&message, headings[k]);
        text_push_str(&message, ":\n");
        bool listed = false;
        for (size_t i = 0; i < record->criteria_len; i++) {
            const struct criterion *criterion = &record->criteria[i];
            if (criterion->kind != (enum criterion_kind)k) {
                continue;
            }
            listed = true;
            text_push_char(&message, '[');
            text_push_u64(&message, criterion->index);
            text_push_str(&message, "] ");
            text_push_slice(&message, criterion->text);
            text_push_char(&message, '\n');
        }
        if (!listed) {
            text_push_str(&message, "(none)\n");
        }
    }
    *user = (struct text){0};
    text_push_slice(user, slice_trim_end(text_slice(&message)));
    text_free(&message);

    *completion = text_from("{\"eligible\":");
    text_push_str(completion, record->eligible ? "true" : "false");
    text_push_str(completion, ",\"criteria\":[");
    for (size_t i = 0; i < record->criteria_len; i++) {
        text_push_str(completion, i == 0 ? "{\"index\":" : ",{\"index\":");
        text_push_u64(completion, record->criteria[i].index);
        text_push_str(completion, record->criteria[i].met ? ",\"met\":true}" : ",\"met\":false}");
    }
    text_push_str(completion, "]}");
}
