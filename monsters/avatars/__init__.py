"""The Gravatar/Libravatar-compatible surface: an avatar URL's parameters -> an image
request (`read`), the keyed id an avatar is drawn from (`keyed_id`), and what `d=`
names (`defaults`). The one image function answers it (`answer.AVATAR`)."""
