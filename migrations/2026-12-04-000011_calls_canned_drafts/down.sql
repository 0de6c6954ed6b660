DROP TABLE drafts;
DROP TABLE canned_responses;
DROP TABLE calls;
